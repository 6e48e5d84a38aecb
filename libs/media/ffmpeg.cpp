#include "ffmpeg.h"

#include <QLoggingCategory>

extern "C" {
#include <libavutil/error.h>
#include <libavutil/log.h>
}

#include <cstdio>
#include <mutex>

Q_LOGGING_CATEGORY(lcFfmpeg, "iptv.media.ffmpeg", QtWarningMsg)

namespace iptv::media {

QString avErrorText(int code)
{
    char text[AV_ERROR_MAX_STRING_SIZE] = {};
    if (av_strerror(code, text, sizeof text) < 0)
        return QStringLiteral("FFmpeg error %1").arg(code);
    return QString::fromUtf8(text);
}

namespace detail {
void OutputContextDeleter::operator()(AVFormatContext *c) const
{
    if (!c)
        return;
    if (c->oformat && !(c->oformat->flags & AVFMT_NOFILE) && !(c->flags & AVFMT_FLAG_CUSTOM_IO))
        avio_closep(&c->pb);
    avformat_free_context(c);
}
} // namespace detail

Frame makeFrame()
{
    Frame f(av_frame_alloc());
    Q_CHECK_PTR(f.get());
    return f;
}

Packet makePacket()
{
    Packet p(av_packet_alloc());
    Q_CHECK_PTR(p.get());
    return p;
}

void Dictionary::set(const char *key, const QString &value)
{
    av_dict_set(&m_dict, key, value.toUtf8().constData(), 0);
}

void Dictionary::set(const char *key, qint64 value)
{
    av_dict_set_int(&m_dict, key, value, 0);
}

QString Dictionary::leftOver() const
{
    QStringList keys;
    const AVDictionaryEntry *e = nullptr;
    while ((e = av_dict_get(m_dict, "", e, AV_DICT_IGNORE_SUFFIX)))
        keys << QString::fromUtf8(e->key);
    return keys.join(QLatin1String(", "));
}

static void logCallback(void *avcl, int level, const char *fmt, va_list vl)
{
    if (level > AV_LOG_WARNING)
        return;
    if (level > AV_LOG_ERROR && !lcFfmpeg().isWarningEnabled())
        return;
    static int printPrefix = 1;
    static std::mutex mutex;
    char line[1024];
    {
        std::lock_guard lock(mutex);
        av_log_format_line2(avcl, level, fmt, vl, line, sizeof line, &printPrefix);
    }
    QByteArray text(line);
    while (text.endsWith('\n'))
        text.chop(1);
    if (text.isEmpty())
        return;
    if (level <= AV_LOG_ERROR)
        qCWarning(lcFfmpeg).noquote() << "error:" << text;
    else
        qCWarning(lcFfmpeg).noquote() << text;
}

void installFfmpegLogHandler()
{
    av_log_set_callback(logCallback);
}

} // namespace iptv::media
