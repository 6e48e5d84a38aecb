#pragma once

// MPEG-TS muxing into memory: libavformat's mpegts muxer writing through a custom AVIOContext,
// so the caller decides where the bytes go (a segment file, the keyframe cache, a UDP socket)
// and knows exactly at which byte a keyframe starts.

#include "ffmpeg.h"

#include <QByteArray>
#include <QList>

#include <functional>

namespace iptv::media {

class TsMuxer
{
public:
    TsMuxer() = default;
    ~TsMuxer();
    TsMuxer(const TsMuxer &) = delete;
    TsMuxer &operator=(const TsMuxer &) = delete;

    /// One output stream per codec parameter set, in order (video first by convention).
    bool open(const QList<const AVCodecParameters *> &streams, MediaError *error);
    bool isOpen() const { return m_ctx != nullptr; }
    /// Writes a packet whose timestamps are in microseconds to output stream `stream`.
    /// The packet is left unchanged.
    bool write(const AVPacket *packet, int stream, MediaError *error);
    /// PAT and PMT are written again before the next packet (each segment, each keyframe, so a
    /// player may start there).
    void resendHeaders();
    /// The bytes written since the last call.
    QByteArray take();
    /// Writes out the audio the muxer holds back (libavformat's MPEG-TS muxer gathers audio frames
    /// into one PES of up to 2,930 bytes or 0.35 s): called before a segment is cut, so that a
    /// segment's audio ends in it instead of at the start of the next one.
    bool flushBuffered(MediaError *error);
    /// The bytes kept so far, without flushing the I/O buffer: what a sink that begins to take
    /// the bytes writes before the ones it is called with (callable from the sink).
    QByteArray takeKept() { return std::exchange(m_pending, {}); }
    /// How many bytes take() would return now, those still in the I/O buffer included (the next
    /// packet, and the PAT and PMT resendHeaders() asks for, starts at this offset; held-back
    /// audio is not counted, as take() does not write it out). With a sink, the bytes it took are
    /// not counted.
    qsizetype pendingBytes() const;
    /// Room for `bytes` to come before the next take(): one allocation instead of a dozen growing
    /// ones (each a copy onto fresh pages) when a caller takes large pieces.
    void reserve(qsizetype bytes) { m_pending.reserve(bytes); }
    /// Writes on into `buffer` (emptied, its capacity kept) when nothing is pending: a caller that
    /// hands back the pieces it took makes the muxer allocate nothing in the steady state.
    void reuse(QByteArray &&buffer)
    {
        if (m_pending.isEmpty() && buffer.capacity() > m_pending.capacity()) {
            buffer.resize(0);
            m_pending = std::move(buffer);
        }
    }
    /// Where the bytes go before they are kept for take(): called with each piece the muxer's
    /// I/O buffer hands out (about 64 KiB when it is full, and what it holds at a take()), on the
    /// writing thread, within write() or take(); true
    /// when it took them (they are not kept), false to keep them for take(). A caller that can
    /// write them to their file there and then saves copying them into memory and out again.
    /// Unset: every byte is kept.
    using Sink = std::function<bool(const char *data, int size)>;
    void setSink(Sink sink) { m_sink = std::move(sink); }
    /// Writes the trailer (flushes buffered audio).
    bool finish(MediaError *error);
    void close();

private:
    static int writeCallback(void *opaque, uint8_t *data, int size);

    OutputContext m_ctx;
    QByteArray m_pending;
    Sink m_sink;
    Packet m_scratch = makePacket();
    bool m_headerWritten = false;
};

} // namespace iptv::media
