#include "hlssegmenter.h"

#include "sequencestate.h"

#include <QDir>
#include <QFile>
#include <QLoggingCategory>
#include <QSaveFile>

#include <cmath>

Q_LOGGING_CATEGORY(lcSegmenter, "iptv.media.hls", QtInfoMsg)

namespace iptv::media {

static constexpr qint64 kInterleaveWindowUs = 1'000'000; ///< a stream this far behind is not waited for
/// Audio this far past the last video frame: the video has stopped, and the audio cuts segments.
/// (Interleaved, audio runs at most a few hundred milliseconds ahead of the video.)
static constexpr qint64 kVideoStoppedUs = 1'000'000;
static const QString kPlaylistName = QStringLiteral("index.m3u8");
static const QString kStateName = QStringLiteral("sequence.state");

HlsSegmenter::HlsSegmenter() = default;
HlsSegmenter::~HlsSegmenter() = default;

bool HlsSegmenter::open(const SegmenterSettings &settings, const QList<const AVCodecParameters *> &streams,
                        int videoStream, MediaError *error)
{
    m_settings = settings;
    QDir dir(settings.directory);
    if (!dir.mkpath(QStringLiteral("."))) {
        *error = {QStringLiteral("creating the output folder %1").arg(settings.directory), 0,
                  QStringLiteral("permission denied or not a folder")};
        return false;
    }
    m_targetDuration = settings.maxSegmentSeconds > 0 ? settings.maxSegmentSeconds
                                                      : int(std::lround(std::ceil(settings.segmentSeconds - 0.001)));
    m_playlist.setTargetDuration(m_targetDuration);
    m_playlist.setWindow(settings.window);
    if (settings.partSeconds > 0) {
        // Whole frames per part, spread evenly over the segment, none longer than the target:
        // 2 s segments of 25 fps with a 0.5 s target are five parts of 0.4 s, not four of 0.48
        // and a 0.08 s stub.
        m_partLength = settings.partSeconds;
        if (settings.frameSeconds > 0) {
            const double framesPerPart = std::floor(settings.partSeconds / settings.frameSeconds + 1e-6);
            if (framesPerPart >= 1) {
                const double longest = framesPerPart * settings.frameSeconds;
                const double parts = std::ceil(settings.segmentSeconds / longest - 1e-6);
                const double framesPerSegment = std::round(settings.segmentSeconds / settings.frameSeconds);
                m_partLength = std::ceil(framesPerSegment / parts - 1e-6) * settings.frameSeconds;
                if (m_partLength > settings.partSeconds + 1e-6)
                    m_partLength = longest;
            }
        }
        // The part target is the length parts really have: rfc8216bis 4.4.4.9 wants every part
        // but the last of a segment within 85% of it.
        m_playlist.setLowLatency(m_partLength);
    }

    // Sequence numbers continue from the last run; its segments are gone with its timeline.
    QString stateError;
    const QString statePath = dir.filePath(kStateName);
    if (QFile::exists(statePath)) {
        if (auto state = SequenceState::load(statePath, &stateError)) {
            m_playlist.restoreSequence(state->mediaSequence, state->discontinuitySequence); // marks a discontinuity
        } else {
            qCWarning(lcSegmenter).noquote() << settings.directory << ": sequence state unreadable, starting at 0:" << stateError;
        }
    }
    const QStringList old = dir.entryList({QStringLiteral("seg-*.ts")}, QDir::Files);
    for (const QString &name : old)
        dir.remove(name);
    m_stats = {};
    return restart(streams, videoStream, error);
}

bool HlsSegmenter::restart(const QList<const AVCodecParameters *> &streams, int videoStream, MediaError *error)
{
    if (m_muxer.isOpen()) {
        MediaError ignored;
        for (const Queued &q : m_queue)
            release(q, &ignored);
        m_queue.clear();
        m_muxer.finish(&ignored);
        const QByteArray tail = m_muxer.take();
        m_segmentBytes += tail;
        m_partBytes += tail;
        if (m_segmentStartUs != AV_NOPTS_VALUE && m_lastEndUs > m_segmentStartUs)
            cutSegment(m_lastEndUs, &ignored);
        m_discontinuityPending = true;
        qCDebug(lcSegmenter).noquote() << m_settings.directory << "restarted for a new input: segment"
                                       << m_playlist.nextSequence() << "will start with EXT-X-DISCONTINUITY";
    }
    m_segmentBytes.clear();
    m_partBytes.clear();
    m_segmentStartUs = m_partStartUs = m_lastDtsUs = m_lastEndUs = m_lastVideoUs = m_lastKeyUs = AV_NOPTS_VALUE;
    m_videoStream = videoStream;
    m_streamCount = int(streams.size());
    m_lastQueuedDts.assign(streams.size(), AV_NOPTS_VALUE);
    return m_muxer.open(streams, error);
}

bool HlsSegmenter::write(const AVPacket *packet, int stream, MediaError *error)
{
    if (stream < 0 || stream >= m_streamCount) {
        *error = {QStringLiteral("segmenting"), 0, QStringLiteral("no stream %1").arg(stream)};
        return false;
    }
    Queued q{makePacket(), stream};
    av_packet_ref(q.packet.get(), packet);
    if (q.packet->dts == AV_NOPTS_VALUE)
        q.packet->dts = q.packet->pts;
    m_lastQueuedDts[stream] = q.packet->dts;
    // Insert in DTS order (each stream arrives in order, so this walks back a few entries at most).
    auto it = m_queue.end();
    while (it != m_queue.begin() && std::prev(it)->packet->dts > q.packet->dts)
        --it;
    m_queue.insert(it, std::move(q));

    bool ok = true;
    while (!m_queue.empty()) {
        const qint64 headDts = m_queue.front().packet->dts;
        bool ready = true;
        for (int s = 0; s < m_streamCount; ++s) {
            // Wait for a stream that may still send something earlier, unless it is far behind.
            if (m_lastQueuedDts[s] == AV_NOPTS_VALUE || m_lastQueuedDts[s] < headDts) {
                const qint64 newest = m_queue.back().packet->dts;
                if (newest - headDts < kInterleaveWindowUs)
                    ready = false;
            }
        }
        if (!ready)
            break;
        Queued q2 = std::move(m_queue.front());
        m_queue.pop_front();
        if (!release(q2, error))
            ok = false;
    }
    return ok;
}

bool HlsSegmenter::release(const Queued &q, MediaError *error)
{
    const AVPacket *p = q.packet.get();
    const bool isVideo = q.stream == m_videoStream;
    const bool key = isVideo && (p->flags & AV_PKT_FLAG_KEY);
    const qint64 at = p->pts != AV_NOPTS_VALUE ? p->pts : p->dts;
    bool ok = true;

    if (m_segmentStartUs == AV_NOPTS_VALUE) {
        // A segment starts at a keyframe (or anywhere when there is no video).
        if (m_videoStream >= 0 && !key)
            return true;
        m_segmentStartUs = m_partStartUs = at;
        m_partIndependent = true;
    } else {
        // Video that stopped while the audio goes on (a picture lost, a radio break): the audio
        // cuts, else the segment would grow past the target with no keyframe to end it.
        const bool videoStopped = m_videoStream >= 0 && !isVideo && m_lastVideoUs != AV_NOPTS_VALUE
            && at - m_lastVideoUs >= kVideoStoppedUs;
        const bool cuts = isVideo || m_videoStream < 0 || videoStopped;
        const double length = (at - m_segmentStartUs) / 1e6;
        // A keyframe a little early (an encoder's scene cut moved the source's GOPs: pass-through
        // of a file whose IDR came 1.8 s after the last one, with 2 s GOPs) also cuts when the next
        // one, a GOP (the last interval) later, would land further from segment_seconds: else the
        // segment runs to almost twice its length (3.8 s for 2 s), and a reader of the playlist
        // sees nothing new for that long. Never shorter than two thirds of segment_seconds.
        const double gop = key && m_lastKeyUs != AV_NOPTS_VALUE ? qMin((at - m_lastKeyUs) / 1e6, length) : 0;
        const bool longEnough = length >= m_settings.segmentSeconds - 0.02
            || (key && m_settings.segmentSeconds - length <= length + gop - m_settings.segmentSeconds);
        // EXTINF rounded to the nearest integer must not exceed EXT-X-TARGETDURATION (RFC 8216
        // 4.3.3.1): any packet past it cuts (an audio frame lasts far less than the 0.1 s left).
        const bool tooLong = length >= m_targetDuration + 0.4;
        if (!cuts && !tooLong) {
            // Audio while the video goes on: the video's keyframes cut.
        } else if (((key || videoStopped) && longEnough) || tooLong) {
            // The audio the muxer holds back belongs to this segment, not the next one.
            ok = m_muxer.flushBuffered(error) && ok;
            if (const QByteArray held = m_muxer.take(); !held.isEmpty()) {
                m_segmentBytes += held;
                if (m_settings.partSeconds > 0)
                    m_partBytes += held;
                if (m_bytesSink)
                    m_bytesSink(held, false);
            }
            ok = cutSegment(at, error) && ok;
            m_segmentStartUs = m_partStartUs = at;
            m_partIndependent = key;
        } else if (m_settings.partSeconds > 0
                   && (at - m_partStartUs) / 1e6 >= m_partLength - (m_settings.frameSeconds > 0 ? m_settings.frameSeconds / 2 : 0.02)) {
            ok = cutPart(at, error) && ok;
            m_partStartUs = at;
            m_partIndependent = key;
        }
    }
    if (key) {
        m_muxer.resendHeaders();
        m_lastKeyUs = at;
    }
    if (!m_muxer.write(p, q.stream, error))
        return false;
    const QByteArray bytes = m_muxer.take();
    m_segmentBytes += bytes;
    if (m_settings.partSeconds > 0)
        m_partBytes += bytes;
    m_lastDtsUs = p->dts;
    if (isVideo)
        m_lastVideoUs = at;
    if (isVideo || m_videoStream < 0 || (m_lastVideoUs != AV_NOPTS_VALUE && at - m_lastVideoUs >= kVideoStoppedUs))
        m_lastEndUs = qMax(m_lastEndUs, at + qMax<qint64>(p->duration, 0)); // B-frames: not the last in decode order
    if (m_bytesSink && !bytes.isEmpty())
        m_bytesSink(bytes, key);
    return ok;
}

bool HlsSegmenter::writeFile(const QString &name, const QByteArray &data, MediaError *error)
{
    QSaveFile file(QDir(m_settings.directory).filePath(name));
    if (!file.open(QIODevice::WriteOnly) || file.write(data) != data.size() || !file.commit()) {
        *error = {QStringLiteral("writing %1").arg(file.fileName()), 0, file.errorString()};
        return false;
    }
    return true;
}

bool HlsSegmenter::cutPart(qint64 endUs, MediaError *error)
{
    const qint64 sequence = m_playlist.nextSequence();
    const QString name = QStringLiteral("seg-%1.%2.ts").arg(sequence).arg(m_partIndex);
    const double duration = (endUs - m_partStartUs) / 1e6;
    const QByteArray bytes = std::exchange(m_partBytes, {});
    if (duration <= 0 || bytes.isEmpty())
        return true;
    if (m_failedSegment || !writeFile(name, bytes, error)) {
        m_failedSegment = true;
        ++m_stats.writeErrors;
        return false;
    }
    m_playlist.addPart({name, duration, m_partIndependent});
    ++m_partIndex;
    ++m_stats.parts;
    m_playlist.setPreloadHint(QStringLiteral("seg-%1.%2.ts").arg(sequence).arg(m_partIndex));
    return publish(error);
}

bool HlsSegmenter::cutSegment(qint64 endUs, MediaError *error)
{
    bool ok = true;
    if (m_settings.partSeconds > 0)
        ok = cutPart(endUs, error);
    const qint64 sequence = m_playlist.nextSequence();
    const QString name = QStringLiteral("seg-%1.ts").arg(sequence);
    const double duration = (endUs - m_segmentStartUs) / 1e6;
    const QByteArray bytes = std::exchange(m_segmentBytes, {});
    m_partIndex = 0;
    if (m_failedSegment || !ok || !writeFile(name, bytes, error)) {
        // Left out of the playlist; what follows is not continuous with what was listed.
        if (!m_failedSegment || ok)
            ++m_stats.writeErrors;
        m_failedSegment = false;
        m_discontinuityPending = true;
        m_playlist.discardInProgress(); // the parts listed for it go too
        return false;
    }
    HlsSegment segment;
    segment.uri = name;
    segment.duration = duration;
    segment.programDateTime = QDateTime::fromMSecsSinceEpoch((m_anchorUs + m_segmentStartUs) / 1000, Qt::UTC);
    segment.discontinuity = std::exchange(m_discontinuityPending, false);
    qCDebug(lcSegmenter).noquote() << m_settings.directory << "listed" << name << duration << "s"
                                   << (segment.discontinuity ? "after a discontinuity" : "");
    const QList<HlsSegment> gone = m_playlist.addSegment(segment);
    for (const HlsSegment &g : gone) {
        m_leaving.push_back(g.uri);
        for (const HlsPart &part : g.parts)
            m_leaving.push_back(part.uri);
    }
    collect();
    ++m_stats.segments;
    m_stats.bytes += quint64(bytes.size());
    m_stats.lastSegmentSeconds = duration;
    m_stats.lastSegmentEndPtsUs = endUs;
    if (m_settings.partSeconds > 0)
        m_playlist.setPreloadHint(QStringLiteral("seg-%1.0.ts").arg(m_playlist.nextSequence()));
    const bool published = publish(error);
    m_stats.lastSegmentListedUs = QDateTime::currentMSecsSinceEpoch() * 1000;
    return published;
}

void HlsSegmenter::collect()
{
    // Segment files stay a while after they leave the playlist: a client that read the playlist
    // just before may still fetch them (RFC 8216 6.2.2).
    const size_t keep = size_t(qMax(1, m_settings.keepAfterWindow)) * (m_settings.partSeconds > 0 ? 8 : 1);
    QDir dir(m_settings.directory);
    while (m_leaving.size() > keep) {
        dir.remove(m_leaving.front());
        m_leaving.pop_front();
    }
}

bool HlsSegmenter::publish(MediaError *error)
{
    const QByteArray text = m_playlist.text();
    bool ok = writeFile(kPlaylistName, text, error);
    SequenceState state;
    state.mediaSequence = m_playlist.nextSequence();
    state.discontinuitySequence = m_playlist.lastDiscontinuitySequence();
    QString stateError;
    if (ok && !state.save(QDir(m_settings.directory).filePath(kStateName), &stateError)) {
        *error = {QStringLiteral("saving the sequence numbers in %1").arg(m_settings.directory), 0, stateError};
        ok = false;
    }
    if (!ok)
        ++m_stats.writeErrors;
    if (m_playlistSink)
        m_playlistSink(text, m_playlist.nextSequence(), m_playlist.partCountInProgress());
    return ok;
}

bool HlsSegmenter::finish(MediaError *error)
{
    bool ok = true;
    while (!m_queue.empty()) {
        Queued q = std::move(m_queue.front());
        m_queue.pop_front();
        ok = release(q, error) && ok;
    }
    if (!m_muxer.isOpen())
        return ok;
    ok = m_muxer.finish(error) && ok;
    const QByteArray tail = m_muxer.take();
    m_segmentBytes += tail;
    m_partBytes += tail;
    if (m_segmentStartUs != AV_NOPTS_VALUE && m_lastEndUs > m_segmentStartUs)
        ok = cutSegment(m_lastEndUs, error) && ok;
    m_segmentStartUs = AV_NOPTS_VALUE;
    m_muxer.close();
    return ok;
}

} // namespace iptv::media
