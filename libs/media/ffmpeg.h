#pragma once

// FFmpeg's C objects behind owners that free them exactly once, and its error codes in words.
//
// Every FFmpeg call in the platform goes through these: a context is never freed by hand, and a
// failed call is reported as "<what we did>: <av_strerror text>" (MediaError), never as a bare
// negative number.

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavformat/avformat.h>
#include <libavutil/frame.h>
#include <libswscale/swscale.h>
}

#include <QString>

#include <memory>

namespace iptv::media {

/// FFmpeg's text for an AVERROR code, e.g. "Connection refused" or "Invalid data found when
/// processing input".
QString avErrorText(int code);

/// A failed media operation: what was being done, and FFmpeg's reason.
struct MediaError
{
    QString what;     ///< "opening input udp://127.0.0.1:5000", "encoding 720p video"
    int code = 0;     ///< the AVERROR code, 0 when the error is ours
    QString reason;   ///< av_strerror's text or our own words

    QString toString() const { return reason.isEmpty() ? what : what + QLatin1String(": ") + reason; }
    static MediaError fromAv(QString what, int code) { return {std::move(what), code, avErrorText(code)}; }
};

namespace detail {
struct InputContextDeleter { void operator()(AVFormatContext *c) const { avformat_close_input(&c); } };
struct OutputContextDeleter { void operator()(AVFormatContext *c) const; }; // closes its pb when it owns one
struct CodecContextDeleter { void operator()(AVCodecContext *c) const { avcodec_free_context(&c); } };
struct CodecParametersDeleter { void operator()(AVCodecParameters *p) const { avcodec_parameters_free(&p); } };
struct FrameDeleter { void operator()(AVFrame *f) const { av_frame_free(&f); } };
struct PacketDeleter { void operator()(AVPacket *p) const { av_packet_free(&p); } };
struct FilterGraphDeleter { void operator()(AVFilterGraph *g) const { avfilter_graph_free(&g); } };
struct SwsDeleter { void operator()(SwsContext *s) const { sws_freeContext(s); } };
struct DictionaryDeleter { void operator()(AVDictionary *d) const { av_dict_free(&d); } };
} // namespace detail

using InputContext = std::unique_ptr<AVFormatContext, detail::InputContextDeleter>;
using OutputContext = std::unique_ptr<AVFormatContext, detail::OutputContextDeleter>;
using CodecContext = std::unique_ptr<AVCodecContext, detail::CodecContextDeleter>;
using CodecParameters = std::unique_ptr<AVCodecParameters, detail::CodecParametersDeleter>;
using Frame = std::unique_ptr<AVFrame, detail::FrameDeleter>;
using Packet = std::unique_ptr<AVPacket, detail::PacketDeleter>;
using FilterGraph = std::unique_ptr<AVFilterGraph, detail::FilterGraphDeleter>;
using SwsContextPtr = std::unique_ptr<SwsContext, detail::SwsDeleter>;

/// Allocated owners; they abort only on allocation failure, as Qt containers do.
Frame makeFrame();
Packet makePacket();

/// An AVDictionary owned for the duration of an open call (options FFmpeg did not consume stay
/// in it, so they can be reported).
class Dictionary
{
public:
    Dictionary() = default;
    void set(const char *key, const QString &value);
    void set(const char *key, qint64 value);
    AVDictionary **get() { return &m_dict; }
    /// The keys left unconsumed after an open call, comma-separated.
    QString leftOver() const;
    ~Dictionary() { av_dict_free(&m_dict); }
    Dictionary(const Dictionary &) = delete;
    Dictionary &operator=(const Dictionary &) = delete;

private:
    AVDictionary *m_dict = nullptr;
};

/// Routes FFmpeg's own log lines to QLoggingCategory "iptv.media.ffmpeg" (warnings and worse
/// by default). Call once per process.
void installFfmpegLogHandler();

} // namespace iptv::media
