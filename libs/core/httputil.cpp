#include "httputil.h"

#include <QDateTime>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLocale>
#include <QTimeZone>

namespace iptv::http {

QByteArray jsonError(const QString &error, const QString &detail)
{
    QJsonObject o{{QStringLiteral("error"), error}};
    if (!detail.isEmpty())
        o.insert(QStringLiteral("detail"), detail);
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

QByteArray quotedEtag(const QByteArray &tag)
{
    return '"' + tag + '"';
}

bool etagMatches(const QByteArray &ifNoneMatch, const QByteArray &tag)
{
    if (tag.isEmpty())
        return false;
    const QByteArray trimmed = ifNoneMatch.trimmed();
    if (trimmed == "*")
        return true;
    for (QByteArray item : trimmed.split(',')) {
        item = item.trimmed();
        if (item.startsWith("W/"))
            item = item.mid(2);
        if (item.size() >= 2 && item.startsWith('"') && item.endsWith('"'))
            item = item.mid(1, item.size() - 2);
        if (item == tag)
            return true;
    }
    return false;
}

std::optional<qint64> parseTime(QStringView text)
{
    text = text.trimmed();
    if (text.isEmpty())
        return std::nullopt;
    bool ok = false;
    const qint64 seconds = text.toLongLong(&ok);
    if (ok)
        return seconds;
    QDateTime dt = QDateTime::fromString(text.toString(), Qt::ISODate);
    if (!dt.isValid())
        return std::nullopt;
    if (dt.timeSpec() == Qt::LocalTime) // no zone given: the API speaks UTC
        dt.setTimeZone(QTimeZone::utc());
    return dt.toSecsSinceEpoch();
}

QString isoUtc(qint64 epochSeconds)
{
    return QDateTime::fromSecsSinceEpoch(epochSeconds, Qt::UTC).toString(Qt::ISODate);
}

QByteArray httpDate(qint64 epochSeconds)
{
    const QDateTime dt = QDateTime::fromSecsSinceEpoch(epochSeconds, QTimeZone::utc());
    return QLocale::c().toString(dt, QStringLiteral("ddd, dd MMM yyyy HH:mm:ss")).toLatin1() + " GMT";
}

std::optional<qint64> parseHttpDate(QByteArrayView text)
{
    // RFC 9110 5.6.7: IMF-fixdate, and the two obsolete forms a recipient must still accept.
    const QString s = QString::fromLatin1(text.trimmed()).simplified();
    const QLocale c = QLocale::c();
    for (const QString &format : {QStringLiteral("ddd, dd MMM yyyy HH:mm:ss 'GMT'"),  // IMF-fixdate
                                  QStringLiteral("dddd, dd-MMM-yy HH:mm:ss 'GMT'"),   // RFC 850
                                  QStringLiteral("ddd MMM d HH:mm:ss yyyy")}) {        // asctime
        QDateTime dt = c.toDateTime(s, format);
        if (!dt.isValid())
            continue;
        // RFC 850's two-digit year: Qt reads it as 19yy; RFC 9110 wants the year within 50 years.
        if (format.contains(u"yy HH") && dt.date().year() < 1970)
            dt = dt.addYears(100);
        dt.setTimeZone(QTimeZone::utc());
        return dt.toSecsSinceEpoch();
    }
    return std::nullopt;
}

bool parseBool(QStringView text)
{
    const auto t = text.trimmed();
    return t == u"1" || t.compare(u"true", Qt::CaseInsensitive) == 0 || t.compare(u"yes", Qt::CaseInsensitive) == 0
        || t.compare(u"on", Qt::CaseInsensitive) == 0;
}

} // namespace iptv::http
