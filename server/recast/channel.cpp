#include "channel.h"

#include <QDir>
#include <QJsonArray>
#include <QLoggingCategory>
#include <QTcpSocket>

Q_LOGGING_CATEGORY(lcChannel, "iptv.recast.channel", QtInfoMsg)

namespace iptv::recast {

Channel::Channel(ChannelConfig config, const QString &outputRoot, QObject *parent)
    : QObject(parent), m_config(std::move(config)), m_folder(QDir(outputRoot).filePath(m_config.id)),
      m_backlog(std::make_unique<OutputBacklog>(m_config.id, qint64(m_config.outputBacklogKib) * 1024))
{
}

Channel::~Channel()
{
    stop();
    setHeldBytes(0);
}

QStringList Channel::renditionNames() const
{
    if (m_config.passthrough)
        return {QStringLiteral("source")};
    QStringList names;
    for (const Rendition &r : m_config.ladder)
        names << r.name;
    return names;
}

int Channel::renditionIndex(const QString &name) const
{
    return int(renditionNames().indexOf(name));
}

void Channel::start()
{
    if (m_pipeline)
        return;
    m_out.clear();
    const qint64 budget = Pipeline::memoryBudget(m_config);
    const int renditions = int(renditionNames().size());
    for (int i = 0; i < renditions; ++i) {
        RenditionOut out;
        // Two GOPs of the rendition fit; the budget counts the caches in.
        out.cache = std::make_unique<media::KeyframeCache>(qMax<qint64>(budget / renditions / 2, 256 * 1024));
        m_out.push_back(std::move(out));
    }
    m_master.clear();
    m_backlog->clear();
    // The pipeline's output waits in the bounded backlog, with at most one call queued to this
    // thread: a call per packet queued the stream itself, without bound, whenever this thread
    // fell behind (19.5 GB for 100 channels on an overloaded machine, then the OOM killer).
    const auto wake = [this] { QMetaObject::invokeMethod(this, &Channel::drainBacklog, Qt::QueuedConnection); };
    Pipeline::Callbacks callbacks;
    callbacks.tsBytes = [this, wake](int r, const QByteArray &ts, bool key) {
        if (m_backlog->pushTs(r, ts, key))
            wake();
    };
    callbacks.playlist = [this, wake](int r, const QByteArray &text, qint64 next, int parts) {
        if (m_backlog->pushPlaylist(r, text, next, parts))
            wake();
    };
    callbacks.stateChanged = [this](ChannelState s, const QString &why) {
        QMetaObject::invokeMethod(this, [this, s, why] { Q_EMIT stateChanged(s, why); }, Qt::QueuedConnection);
    };
    m_pipeline = std::make_unique<Pipeline>(m_config, m_folder, std::move(callbacks));
    m_pipeline->setThreadNice(m_threadNice);
    m_pipeline->start();
}

void Channel::requestStop()
{
    if (m_pipeline)
        m_pipeline->requestStop();
}

void Channel::stop()
{
    if (!m_pipeline)
        return;
    m_pipeline->stop();
    m_pipeline.reset();
    drainSlice(std::numeric_limits<qint64>::max()); // the segments finished last, to the viewers and the playlists
    for (const Viewer &v : std::as_const(m_viewers)) {
        if (v.socket) {
            v.socket->disconnectFromHost();
        }
    }
    m_viewers.clear();
    setHeldBytes(0);
    Q_EMIT stateChanged(ChannelState::Stopped, {});
}

ChannelState Channel::state() const
{
    return m_pipeline ? m_pipeline->stats().state : ChannelState::Stopped;
}

PipelineStats Channel::stats() const
{
    if (!m_pipeline) {
        PipelineStats s;
        s.state = ChannelState::Stopped;
        return s;
    }
    return m_pipeline->stats();
}

QByteArray Channel::playlist(int rendition) const
{
    return rendition >= 0 && rendition < int(m_out.size()) ? m_out[size_t(rendition)].playlist : QByteArray();
}

qint64 Channel::nextSequence(int rendition) const
{
    return rendition >= 0 && rendition < int(m_out.size()) ? m_out[size_t(rendition)].nextSequence : 0;
}

int Channel::partsInProgress(int rendition) const
{
    return rendition >= 0 && rendition < int(m_out.size()) ? m_out[size_t(rendition)].parts : 0;
}

void Channel::onPlaylist(int rendition, const QByteArray &text, qint64 nextSequence, int parts)
{
    if (rendition < 0) {
        m_master = text;
        Q_EMIT playlistChanged(-1);
        return;
    }
    if (rendition >= int(m_out.size()))
        return;
    RenditionOut &out = m_out[size_t(rendition)];
    out.playlist = text;
    out.nextSequence = nextSequence;
    out.parts = parts;
    Q_EMIT playlistChanged(rendition);
}

void Channel::drainBacklog()
{
    // One channel's 8 MiB after a stall, times a hundred channels, in one turn of the event loop
    // kept /healthz and every viewer waiting for all of it; a slice each, they take turns.
    if (drainSlice(kDrainSliceBytes))
        QMetaObject::invokeMethod(this, &Channel::drainBacklog, Qt::QueuedConnection);
}

bool Channel::drainSlice(qint64 maxBytes)
{
    OutputBacklog::Batch batch = m_backlog->take(maxBytes);
    // Every chunk goes back to the pipeline's thread to be freed (OutputBacklog::recycle): the
    // batch's own references and the GOPs the keyframe caches let go.
    QList<QByteArray> spent;
    for (size_t r = 0; r < batch.chunks.size(); ++r) {
        for (OutputBacklog::Chunk &chunk : batch.chunks[r]) {
            onTsBytes(int(r), chunk.ts, chunk.keyframe, &spent);
            spent.append(std::move(chunk.ts));
        }
    }
    m_backlog->recycle(std::move(spent));
    for (auto it = batch.playlists.cbegin(); it != batch.playlists.cend(); ++it)
        onPlaylist(it.key(), it->text, it->nextSequence, it->parts);
    return batch.more;
}

void Channel::onTsBytes(int rendition, const QByteArray &ts, bool keyframe, QList<QByteArray> *spent)
{
    if (rendition < 0 || rendition >= int(m_out.size()))
        return;
    m_out[size_t(rendition)].cache->append(ts, keyframe, spent);
    const bool overBudget = m_budget && m_budget->heldBytes > m_budget->limitBytes;
    qint64 held = 0;
    for (qsizetype i = 0; i < m_viewers.size();) {
        Viewer &v = m_viewers[i];
        if (!v.socket || v.socket->state() != QAbstractSocket::ConnectedState) {
            m_viewers.removeAt(i);
            continue;
        }
        if (v.rendition == rendition) {
            if (v.waitingForKeyframe && keyframe)
                v.waitingForKeyframe = false;
            if (!v.waitingForKeyframe) {
                const qint64 backlog = v.socket->bytesToWrite();
                const bool overOwn = backlog > m_viewerBacklogLimit;
                if (overOwn || (overBudget && backlog > kFairBacklogBytes)) {
                    qCInfo(lcChannel).noquote() << m_config.id << "viewer" << v.socket->peerAddress().toString()
                                                << "is too slow; disconnected with" << backlog << "bytes unsent"
                                                << (overOwn ? "" : "(every viewer's allowance is used up)");
                    ++m_viewersDropped;
                    if (!overOwn && m_budget->dropped)
                        m_budget->dropped->increment();
                    v.socket->abort();
                    m_viewers.removeAt(i);
                    continue;
                }
                v.socket->write(ts);
            }
        }
        held += v.socket->bytesToWrite();
        ++i;
    }
    setHeldBytes(held);
}

void Channel::setHeldBytes(qint64 bytes)
{
    if (m_budget)
        m_budget->heldBytes += bytes - m_heldBytes;
    m_heldBytes = bytes;
}

void Channel::addViewer(QTcpSocket *socket, int rendition, bool fromCache)
{
    if (!socket || rendition < 0 || rendition >= int(m_out.size()))
        return;
    Viewer v;
    v.socket = socket;
    v.rendition = rendition;
    const QByteArray start = fromCache ? m_out[size_t(rendition)].cache->snapshot() : QByteArray();
    if (!start.isEmpty())
        socket->write(start);
    else
        v.waitingForKeyframe = true;
    m_viewers.append(v);
}

int Channel::viewerCount() const
{
    int n = 0;
    for (const Viewer &v : m_viewers)
        n += v.socket && v.socket->state() == QAbstractSocket::ConnectedState ? 1 : 0;
    return n;
}

QJsonObject Channel::toJson(bool withStats) const
{
    QJsonObject o = m_config.toJson();
    const PipelineStats s = stats();
    o.insert(QStringLiteral("state"), stateName(s.state));
    if (!s.reason.isEmpty())
        o.insert(QStringLiteral("reason"), s.reason);
    QJsonArray renditions;
    for (const QString &name : renditionNames())
        renditions.append(name);
    o.insert(QStringLiteral("renditions"), renditions);
    o.insert(QStringLiteral("playlist"), QStringLiteral("/live/%1/index.m3u8").arg(m_config.id));
    o.insert(QStringLiteral("ts"), QStringLiteral("/live/%1.ts").arg(m_config.id));
    if (withStats) {
        const OutputBacklog::Stats backlog = m_backlog->stats();
        o.insert(QStringLiteral("stats"),
                 QJsonObject{{QStringLiteral("input_kbps"), qRound(s.inputKbps * 10) / 10.0},
                             {QStringLiteral("output_fps"), qRound(s.outputFps * 10) / 10.0},
                             {QStringLiteral("encode_speed"), qRound(s.speed * 100) / 100.0},
                             {QStringLiteral("frames_in"), qint64(s.framesIn)},
                             {QStringLiteral("frames_out"), qint64(s.framesOut)},
                             {QStringLiteral("frames_dropped"), qint64(s.framesDropped)},
                             {QStringLiteral("timestamps_repaired"), qint64(s.repairedTimestamps)},
                             {QStringLiteral("corrupt_packets"), qint64(s.corruptPackets)},
                             {QStringLiteral("reconnects"), qint64(s.reconnects)},
                             {QStringLiteral("segments"), qint64(s.segments)},
                             {QStringLiteral("write_errors"), qint64(s.writeErrors)},
                             {QStringLiteral("viewers"), viewerCount()},
                             {QStringLiteral("viewers_dropped"), qint64(m_viewersDropped)},
                             {QStringLiteral("segment_latency_ms"), s.lastSegmentLatencyUs / 1000},
                             {QStringLiteral("memory_budget_bytes"), s.memoryBudgetBytes},
                             {QStringLiteral("output_backlog_bytes"), backlog.bytes},
                             {QStringLiteral("output_backlog_peak_bytes"), backlog.peakBytes},
                             {QStringLiteral("output_backlog_dropped_bytes"), qint64(backlog.droppedBytes)},
                             {QStringLiteral("output_backlog_dropped_gops"), qint64(backlog.droppedGops)},
                             {QStringLiteral("live_since"), s.liveSinceMs}});
    }
    return o;
}

} // namespace iptv::recast
