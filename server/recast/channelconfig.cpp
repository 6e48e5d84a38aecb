#include "channelconfig.h"

#include <core/numbers.h>
#include <media/input.h>

#include <QJsonArray>
#include <QRegularExpression>

#include <cmath>

namespace iptv::recast {

std::optional<Rendition> Rendition::parse(const QString &text, QString *error)
{
    static const QRegularExpression re(QStringLiteral(R"(^\s*([A-Za-z0-9_-]{1,16}):(\d{2,5})x(\d{2,5})@(\d{2,6})k?\s*$)"));
    const auto m = re.match(text);
    if (!m.hasMatch()) {
        *error = QStringLiteral("rendition \"%1\": expected name:WIDTHxHEIGHT@KBPS, e.g. 720p:1280x720@2500").arg(text);
        return std::nullopt;
    }
    Rendition r;
    r.name = m.captured(1);
    r.width = m.captured(2).toInt();
    r.height = m.captured(3).toInt();
    r.bitrateKbps = m.captured(4).toInt();
    if (r.width < 16 || r.width > 7680 || r.height < 16 || r.height > 4320 || r.width % 2 || r.height % 2) {
        *error = QStringLiteral("rendition \"%1\": size must be even, 16x16 to 7680x4320").arg(text);
        return std::nullopt;
    }
    if (r.bitrateKbps < 32 || r.bitrateKbps > 100000) {
        *error = QStringLiteral("rendition \"%1\": bitrate must be 32 to 100000 kbit/s").arg(text);
        return std::nullopt;
    }
    return r;
}

QString Rendition::toString() const
{
    return QStringLiteral("%1:%2x%3@%4").arg(name).arg(width).arg(height).arg(bitrateKbps);
}

QList<Rendition> defaultLadder()
{
    return {{QStringLiteral("720p"), 1280, 720, 2500}, {QStringLiteral("360p"), 640, 360, 800}};
}

bool ChannelConfig::validate(QString *error) const
{
    static const QRegularExpression idRe(QStringLiteral("^[a-z0-9_-]{1,32}$"));
    auto fail = [&](const QString &what) {
        *error = QStringLiteral("channel \"%1\": %2").arg(id, what);
        return false;
    };
    if (!idRe.match(id).hasMatch())
        return fail(QStringLiteral("id must be 1 to 32 of a-z, 0-9, _ and -"));
    if (name.trimmed().isEmpty())
        return fail(QStringLiteral("name is empty"));
    QString sourceError;
    if (source.trimmed().isEmpty())
        return fail(QStringLiteral("source is empty"));
    if (!media::InputSpec::parse(source, &sourceError))
        return fail(QStringLiteral("source: ") + sourceError);
    if (!passthrough && ladder.isEmpty())
        return fail(QStringLiteral("ladder is empty (give renditions or \"copy\")"));
    QStringList names;
    for (const Rendition &r : ladder) {
        if (names.contains(r.name))
            return fail(QStringLiteral("rendition name \"%1\" appears twice").arg(r.name));
        names << r.name;
    }
    if (fps < 1 || fps > 120)
        return fail(QStringLiteral("fps must be 1 to 120"));
    static const QStringList presets = {QStringLiteral("ultrafast"), QStringLiteral("superfast"), QStringLiteral("veryfast"),
                                        QStringLiteral("faster"), QStringLiteral("fast"), QStringLiteral("medium"),
                                        QStringLiteral("slow"), QStringLiteral("slower"), QStringLiteral("veryslow")};
    if (!presets.contains(preset))
        return fail(QStringLiteral("preset \"%1\" is not an x264 preset (%2)").arg(preset, presets.join(u',')));
    if (segmentSeconds < 0.5 || segmentSeconds > 30)
        return fail(QStringLiteral("segment_seconds must be 0.5 to 30"));
    if (gopSeconds <= 0 || gopSeconds > segmentSeconds)
        return fail(QStringLiteral("gop_seconds must be above 0 and at most segment_seconds"));
    const double ratio = segmentSeconds / gopSeconds;
    if (std::abs(ratio - std::round(ratio)) > 1e-6)
        return fail(QStringLiteral("gop_seconds must divide segment_seconds, so segments start at keyframes"));
    if (window < 2 || window > 1000)
        return fail(QStringLiteral("window must be 2 to 1000 segments"));
    if (partSeconds < 0 || (partSeconds > 0 && (partSeconds < 0.1 || partSeconds > segmentSeconds / 2)))
        return fail(QStringLiteral("part_seconds must be 0 (off) or 0.1 to half a segment"));
    if (audioKbps < 32 || audioKbps > 512)
        return fail(QStringLiteral("audio_kbps must be 32 to 512"));
    if (threads < 0 || threads > 64)
        return fail(QStringLiteral("threads must be 0 to 64"));
    if (readTimeoutMs < 500 || openTimeoutMs < 500)
        return fail(QStringLiteral("timeouts must be at least 500 ms"));
    if (outputBacklogKib < 256 || outputBacklogKib > 1024 * 1024)
        return fail(QStringLiteral("output_backlog_kib must be 256 (256 KiB) to 1048576 (1 GiB)"));
    if (!udpOut.isEmpty() && !udpOut.startsWith(QLatin1String("udp://")))
        return fail(QStringLiteral("udp_out must be a udp:// URL"));
    return true;
}

QJsonObject ChannelConfig::toJson() const
{
    QJsonArray renditions;
    for (const Rendition &r : ladder)
        renditions.append(r.toString());
    return QJsonObject{{QStringLiteral("id"), id},
                       {QStringLiteral("name"), name},
                       {QStringLiteral("tvg_id"), tvgId},
                       {QStringLiteral("number"), number},
                       {QStringLiteral("group"), group},
                       {QStringLiteral("source"), source},
                       {QStringLiteral("loop"), loop},
                       {QStringLiteral("ladder"), passthrough ? QJsonValue(QStringLiteral("copy")) : QJsonValue(renditions)},
                       {QStringLiteral("fps"), fps},
                       {QStringLiteral("preset"), preset},
                       {QStringLiteral("threads"), threads},
                       {QStringLiteral("segment_seconds"), segmentSeconds},
                       {QStringLiteral("gop_seconds"), gopSeconds},
                       {QStringLiteral("window"), window},
                       {QStringLiteral("part_seconds"), partSeconds},
                       {QStringLiteral("audio_kbps"), audioKbps},
                       {QStringLiteral("tone_hz"), toneHz},
                       {QStringLiteral("udp_out"), udpOut},
                       {QStringLiteral("read_timeout_ms"), readTimeoutMs},
                       {QStringLiteral("open_timeout_ms"), openTimeoutMs},
                       {QStringLiteral("enabled"), enabled},
                       {QStringLiteral("pace"), pace},
                       {QStringLiteral("output_backlog_kib"), outputBacklogKib}};
}

std::optional<ChannelConfig> ChannelConfig::fromJson(const QJsonObject &o, const ChannelConfig &base, QString *error)
{
    ChannelConfig c = base;
    auto str = [&](const char *key, QString *out) {
        const QJsonValue v = o.value(QLatin1String(key));
        if (v.isUndefined())
            return true;
        if (!v.isString()) {
            *error = QStringLiteral("\"%1\" must be a string").arg(QLatin1String(key));
            return false;
        }
        *out = v.toString();
        return true;
    };
    auto num = [&](const char *key, auto *out) {
        const QJsonValue v = o.value(QLatin1String(key));
        if (v.isUndefined())
            return true;
        if (!v.isDouble()) {
            *error = QStringLiteral("\"%1\" must be a number").arg(QLatin1String(key));
            return false;
        }
        using T = std::remove_pointer_t<decltype(out)>;
        if constexpr (std::is_integral_v<T>) {
            const double d = v.toDouble();
            if (d != std::floor(d) || std::abs(d) > 1e9) {
                *error = QStringLiteral("\"%1\" must be a whole number").arg(QLatin1String(key));
                return false;
            }
            *out = T(d);
        } else {
            *out = v.toDouble();
        }
        return true;
    };
    auto boolean = [&](const char *key, bool *out) {
        const QJsonValue v = o.value(QLatin1String(key));
        if (v.isUndefined())
            return true;
        if (!v.isBool()) {
            *error = QStringLiteral("\"%1\" must be true or false").arg(QLatin1String(key));
            return false;
        }
        *out = v.toBool();
        return true;
    };
    if (!str("id", &c.id) || !str("name", &c.name) || !str("tvg_id", &c.tvgId) || !str("group", &c.group)
        || !str("source", &c.source) || !str("preset", &c.preset) || !str("udp_out", &c.udpOut)
        || !num("number", &c.number) || !num("fps", &c.fps) || !num("threads", &c.threads)
        || !num("segment_seconds", &c.segmentSeconds) || !num("gop_seconds", &c.gopSeconds) || !num("window", &c.window)
        || !num("part_seconds", &c.partSeconds) || !num("audio_kbps", &c.audioKbps) || !num("tone_hz", &c.toneHz)
        || !num("read_timeout_ms", &c.readTimeoutMs) || !num("open_timeout_ms", &c.openTimeoutMs)
        || !num("output_backlog_kib", &c.outputBacklogKib)
        || !boolean("loop", &c.loop) || !boolean("enabled", &c.enabled) || !boolean("pace", &c.pace))
        return std::nullopt;
    const QJsonValue ladder = o.value(QLatin1String("ladder"));
    if (ladder.isString() && ladder.toString() == QLatin1String("copy")) {
        c.passthrough = true;
        c.ladder.clear();
    } else if (ladder.isArray()) {
        c.passthrough = false;
        c.ladder.clear();
        for (const QJsonValue &v : ladder.toArray()) {
            auto r = Rendition::parse(v.toString(), error);
            if (!r) {
                *error = QStringLiteral("\"ladder\": ") + *error;
                return std::nullopt;
            }
            c.ladder.append(*r);
        }
    } else if (!ladder.isUndefined()) {
        *error = QStringLiteral("\"ladder\" must be \"copy\" or a list like [\"720p:1280x720@2500\"]");
        return std::nullopt;
    }
    if (c.name.isEmpty())
        c.name = c.id;
    if (!c.validate(error))
        return std::nullopt;
    return c;
}

} // namespace iptv::recast
