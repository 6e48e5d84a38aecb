#pragma once

// A ReCast channel: one source, a ladder (or pass-through) and its outputs. Read from the config
// file's [channel.<id>] sections and from the HTTP API's JSON, validated the same way.

#include <QJsonObject>
#include <QList>
#include <QString>

#include <optional>

namespace iptv::recast {

struct Rendition
{
    QString name;        ///< "720p"; the folder and the variant playlist's name
    int width = 0;
    int height = 0;
    int bitrateKbps = 0;

    /// "720p:1280x720@2500" (kbit/s; a trailing k is accepted).
    static std::optional<Rendition> parse(const QString &text, QString *error);
    QString toString() const;
};

struct ChannelConfig
{
    QString id;              ///< [a-z0-9_-]{1,32}: URLs and folders use it
    QString name;            ///< display name, burned into test patterns and slates
    QString tvgId;           ///< the guide's channel id (M3U tvg-id)
    int number = 0;          ///< M3U tvg-chno; 0 = none
    QString group;           ///< M3U group-title
    QString source = QStringLiteral("pattern:"); ///< InputSpec::parse syntax
    bool loop = true;        ///< files: loop at the end
    bool passthrough = false; ///< remux only (ladder "copy")
    QList<Rendition> ladder; ///< highest first
    int fps = 25;
    QString preset = QStringLiteral("veryfast");
    int threads = 0;         ///< per encoder; 0 = FFmpeg decides
    double segmentSeconds = 2.0;
    double gopSeconds = 1.0; ///< forced keyframe interval (divides segmentSeconds)
    int window = 6;
    double partSeconds = 0;  ///< LL-HLS parts; 0 = off
    int audioKbps = 128;
    int toneHz = 1000;       ///< test pattern tone; 0 = silence
    QString udpOut;          ///< optional MPEG-TS over UDP (multicast) of the first rendition
    int readTimeoutMs = 5000;
    int openTimeoutMs = 10000;
    bool enabled = true;
    bool pace = true;        ///< files and patterns at real time; false = as fast as possible (benchmarks)
    /// TS bytes the pipeline may hold for the server's thread (keyframe cache, MPEG-TS viewers)
    /// when that thread falls behind; past it the oldest GOPs are dropped (OutputBacklog).
    int outputBacklogKib = 8192;

    /// Checks every value; *error names the channel and the key.
    bool validate(QString *error) const;
    QJsonObject toJson() const;
    /// Fields absent from `o` keep the values of `base`.
    static std::optional<ChannelConfig> fromJson(const QJsonObject &o, const ChannelConfig &base, QString *error);
};

/// The default ladder of a transcoded channel: 720p at 2.5 Mbit/s and 360p at 800 kbit/s.
QList<Rendition> defaultLadder();

} // namespace iptv::recast
