#pragma once

// The viewer's settings on the box (core module "store"): servers, guide refresh, languages,
// favourites and the parental control's state, kept in one JSON file (settings.json, written
// atomically on every change) so they survive restarts and a damaged file only costs defaults.

#include <QJsonObject>
#include <QObject>
#include <QStringList>

namespace iptv::hubris {

class BoxSettings : public QObject
{
    Q_OBJECT
    /// Empty = the one given on the command line.
    Q_PROPERTY(QString guideServer READ guideServer WRITE setGuideServer NOTIFY changed)
    Q_PROPERTY(QString controlServer READ controlServer WRITE setControlServer NOTIFY changed)
    Q_PROPERTY(int refreshMinutes READ refreshMinutes WRITE setRefreshMinutes NOTIFY changed)
    /// ISO 639 codes ("" = the stream's default; subtitles "" = off).
    Q_PROPERTY(QString audioLanguage READ audioLanguage WRITE setAudioLanguage NOTIFY changed)
    Q_PROPERTY(QString subtitleLanguage READ subtitleLanguage WRITE setSubtitleLanguage NOTIFY changed)
public:
    /// `file` keeps them (read now, written on each change).
    explicit BoxSettings(const QString &file, QObject *parent = nullptr);

    QString guideServer() const { return m_values.value(u"guideServer").toString(); }
    void setGuideServer(const QString &url) { set(QStringLiteral("guideServer"), url.trimmed()); }
    QString controlServer() const { return m_values.value(u"controlServer").toString(); }
    void setControlServer(const QString &url) { set(QStringLiteral("controlServer"), url.trimmed()); }
    int refreshMinutes() const { return m_values.value(u"refreshMinutes").toInt(15); }
    void setRefreshMinutes(int minutes) { set(QStringLiteral("refreshMinutes"), qBound(1, minutes, 24 * 60)); }
    QString audioLanguage() const { return m_values.value(u"audioLanguage").toString(); }
    void setAudioLanguage(const QString &code) { set(QStringLiteral("audioLanguage"), code); }
    QString subtitleLanguage() const { return m_values.value(u"subtitleLanguage").toString(); }
    void setSubtitleLanguage(const QString &code) { set(QStringLiteral("subtitleLanguage"), code); }

    /// The channel watched last (its id and stream), so a cold start plays it while the UI loads.
    QString lastChannelId() const { return m_values.value(u"lastChannel").toString(); }
    QString lastStream() const { return m_values.value(u"lastStream").toString(); }
    /// Empty `id`: none (a locked channel is never remembered for the next start).
    void setLastChannel(const QString &id, const QString &stream);

    /// Favourite channels, by channel id.
    QStringList favourites() const;
    void setFavourites(const QStringList &ids);

    /// Any value by key (the parental control keeps its state under "parental.*").
    QJsonValue value(const QString &key) const { return m_values.value(key); }
    void setValue(const QString &key, const QJsonValue &value) { set(key, value); }
    QString file() const { return m_file; }
    /// Why the file could not be read or written ("" when fine).
    QString lastError() const { return m_lastError; }

    /// The choices the settings page offers.
    Q_INVOKABLE static QStringList languageCodes();
    Q_INVOKABLE static QString languageName(const QString &code);
    Q_INVOKABLE static QList<int> refreshChoices() { return {5, 15, 30, 60, 240}; }

Q_SIGNALS:
    void changed();

private:
    void set(const QString &key, const QJsonValue &value);
    void save();

    QString m_file;
    QJsonObject m_values;
    QString m_lastError;
};

} // namespace iptv::hubris
