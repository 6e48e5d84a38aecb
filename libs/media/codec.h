#pragma once

// Decode, scale and encode: the transcoding ladder's pieces. A channel decodes once, scales once
// per rendition (Scaler) and encodes once per rendition (VideoEncoder); audio is resampled and
// encoded to AAC once (AudioEncoder) and shared by every rendition.

#include "ffmpeg.h"

#include <QString>

#include <functional>

struct SwrContext;
struct AVAudioFifo;

namespace iptv::media {

/// Decodes one input stream.
class Decoder
{
public:
    /// `lowDelay`: no frame threading (slice threads only), so the first packet gives the first
    /// picture at once instead of `threads` - 1 packets later (a player's zap).
    bool open(const AVStream *stream, int threads, MediaError *error, bool lowDelay = false);
    bool isOpen() const { return m_ctx != nullptr; }
    /// Sends a packet (nullptr = drain) and hands every frame now available to `sink`.
    /// A corrupt packet is not fatal: it is counted and reported in *error, true is returned.
    bool decode(const AVPacket *packet, const std::function<void(AVFrame *)> &sink, MediaError *error);
    AVCodecContext *context() const { return m_ctx.get(); }
    quint64 corruptPackets() const { return m_corrupt; }

private:
    CodecContext m_ctx;
    Frame m_frame = makeFrame();
    quint64 m_corrupt = 0;
};

struct VideoEncoderSettings
{
    QString name;          ///< rendition name, e.g. "720p"
    int width = 1280;
    int height = 720;
    int fps = 25;
    int bitrateKbps = 3000;
    QString preset = QStringLiteral("veryfast");
    QString profile = QStringLiteral("high");
    int gopFrames = 50;    ///< keyframes are forced by the caller; this is the encoder's upper bound
    int threads = 0;       ///< 0 = FFmpeg decides
    bool lowLatency = false; ///< x264 tune=zerolatency (no lookahead, no B-frames)
};

/// libx264 through libavcodec; timestamps in microseconds (time base 1/1,000,000).
class VideoEncoder
{
public:
    bool open(const VideoEncoderSettings &settings, MediaError *error);
    /// Encodes `frame` (nullptr = drain; pts in microseconds), a keyframe when `forceKey`.
    bool encode(AVFrame *frame, bool forceKey, const std::function<void(AVPacket *)> &sink, MediaError *error);
    AVCodecContext *context() const { return m_ctx.get(); }
    const VideoEncoderSettings &settings() const { return m_settings; }

private:
    VideoEncoderSettings m_settings;
    CodecContext m_ctx;
    Packet m_packet = makePacket();
};

/// Converts decoded frames of any size and pixel format to the encoder's (recreated when the
/// input changes, e.g. after a reconnect to a different camera mode).
class Scaler
{
public:
    /// A frame of width x height yuv420p with `source`'s timestamps, or null with *error.
    AVFrame *scale(const AVFrame *source, int width, int height, MediaError *error);
    /// Threads that scale slices of a frame in parallel (libswscale's "threads"; 0 = one per
    /// core). Default 1; takes effect with the next scaling context.
    void setThreads(int threads) { m_threads = threads; m_sws.reset(); }

private:
    SwsContextPtr m_sws;
    int m_threads = 1;
    Frame m_out;
    int m_srcW = 0, m_srcH = 0, m_srcFormat = -1;
};

/// AAC at 48 kHz stereo from any decoded audio: resampled (libswresample), cut into the
/// encoder's frame size, timestamps in microseconds continuing from the first frame.
class AudioEncoder
{
public:
    AudioEncoder();
    ~AudioEncoder();
    bool open(int bitrateKbps, MediaError *error);
    /// `frame`'s pts is in microseconds on the output timeline (nullptr = drain).
    bool encode(const AVFrame *frame, const std::function<void(AVPacket *)> &sink, MediaError *error);
    /// Forget buffered samples and the resampler (a new input follows on the same timeline).
    void resetInput();
    AVCodecContext *context() const { return m_ctx.get(); }

private:
    bool ensureResampler(const AVFrame *frame, MediaError *error);
    bool flushFifo(bool all, const std::function<void(AVPacket *)> &sink, MediaError *error);

    CodecContext m_ctx;
    SwrContext *m_swr = nullptr;
    AVAudioFifo *m_fifo = nullptr;
    Packet m_packet = makePacket();
    Frame m_frame = makeFrame();
    qint64 m_nextPts = AV_NOPTS_VALUE; ///< in samples
    int m_inRate = 0, m_inFormat = -1;
    AVChannelLayout m_inLayout{};
};

} // namespace iptv::media
