#pragma once

// What the fleet table shows: free text plus structured conditions, and the operator's saved
// filters (QSettings). The same filter can target commands: structured parts map to the server's
// fleet filter; free text (which the server does not match the same way) is resolved to the ids
// the table shows.

#include <QJsonObject>
#include <QString>
#include <QStringList>
#include <QVariantMap>

namespace iptv::cerberus {

struct FleetFilter
{
    enum class Presence : quint8 { Any, Online, Offline };

    QString text;           ///< words, each must appear in serial, model, version, channel or tags
    Presence presence = Presence::Any;
    QString model;          ///< exact; empty = any
    QString version;
    QString releaseChannel; ///< clean | experimental
    QString currentChannel;
    QString tag;
    bool problemsOnly = false; ///< health warning or alarm

    bool isEmpty() const;
    bool hasStructuredOnly() const { return text.trimmed().isEmpty() && !problemsOnly; }
    QVariantMap toVariantMap() const;
    static FleetFilter fromVariantMap(const QVariantMap &m);
    /// The server's FleetFilter JSON (model, version, channel, current, tag, online).
    QJsonObject toServerFilter() const;
    /// A short human description ("online · model X · 'abc'").
    QString describe() const;
    bool operator==(const FleetFilter &o) const = default;
};

/// Named filters kept in QSettings under "cerberus/filters".
class SavedFilters
{
public:
    static QStringList names();
    static FleetFilter load(const QString &name);
    static void save(const QString &name, const FleetFilter &filter);
    static void remove(const QString &name);
};

} // namespace iptv::cerberus
