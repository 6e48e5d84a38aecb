#include "boxsettings.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLocale>
#include <QLoggingCategory>
#include <QSaveFile>

Q_LOGGING_CATEGORY(lcSettings, "iptv.hubris.settings", QtInfoMsg)

namespace iptv::hubris {

BoxSettings::BoxSettings(const QString &file, QObject *parent) : QObject(parent), m_file(file)
{
    QFile f(m_file);
    if (!f.exists())
        return;
    if (!f.open(QIODevice::ReadOnly)) {
        m_lastError = QStringLiteral("cannot read %1: %2").arg(m_file, f.errorString());
        qCWarning(lcSettings).noquote() << m_lastError;
        return;
    }
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(f.read(1024 * 1024), &error);
    if (!doc.isObject()) {
        m_lastError = QStringLiteral("%1 is damaged (%2); the settings start from their defaults").arg(m_file, error.errorString());
        qCWarning(lcSettings).noquote() << m_lastError;
        return;
    }
    m_values = doc.object();
}

QStringList BoxSettings::favourites() const
{
    QStringList ids;
    for (const QJsonValue &v : m_values.value(u"favourites").toArray())
        ids << v.toString();
    return ids;
}

void BoxSettings::setFavourites(const QStringList &ids)
{
    QStringList sorted = ids;
    sorted.sort();
    set(QStringLiteral("favourites"), QJsonArray::fromStringList(sorted));
}

void BoxSettings::setLastChannel(const QString &id, const QString &stream)
{
    if (id == lastChannelId() && stream == lastStream())
        return;
    // One write for both.
    if (id.isEmpty()) {
        m_values.remove(QStringLiteral("lastChannel"));
        m_values.remove(QStringLiteral("lastStream"));
    } else {
        m_values.insert(QStringLiteral("lastChannel"), id);
        m_values.insert(QStringLiteral("lastStream"), stream);
    }
    save();
    Q_EMIT changed();
}

void BoxSettings::set(const QString &key, const QJsonValue &value)
{
    if (m_values.value(key) == value)
        return;
    if (value.isNull() || value.isUndefined())
        m_values.remove(key);
    else
        m_values.insert(key, value);
    save();
    Q_EMIT changed();
}

void BoxSettings::save()
{
    QSaveFile f(m_file);
    const QByteArray body = QJsonDocument(m_values).toJson(QJsonDocument::Indented);
    if (!f.open(QIODevice::WriteOnly) || f.write(body) != body.size() || !f.commit()) {
        m_lastError = QStringLiteral("cannot save %1: %2").arg(m_file, f.errorString());
        qCWarning(lcSettings).noquote() << m_lastError;
        return;
    }
    m_lastError.clear();
}

QStringList BoxSettings::languageCodes()
{
    // The guide generator's languages and the usual ones of European lineups.
    return {QString(), QStringLiteral("en"), QStringLiteral("de"), QStringLiteral("fr"), QStringLiteral("es"),
            QStringLiteral("it"), QStringLiteral("el"), QStringLiteral("ja")};
}

QString BoxSettings::languageName(const QString &code)
{
    if (code.isEmpty())
        return tr("Default");
    const QLocale locale(code);
    // The language's own name ("Deutsch"), without a country ("American English").
    const QString native = locale.language() == QLocale::English ? QStringLiteral("English") : locale.nativeLanguageName();
    return native.isEmpty() ? code : native.left(1).toUpper() + native.mid(1);
}

} // namespace iptv::hubris
