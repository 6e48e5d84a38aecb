#pragma once

// A running channel on the server's thread: its pipeline (on a thread of its own), the latest
// playlists, the keyframe cache of every rendition and the viewers of its MPEG-TS output.

#include "channelconfig.h"
#include "channelstate.h"
#include "outputbacklog.h"
#include "pipeline.h"

#include <core/metrics.h>
#include <media/keyframecache.h>

#include <QByteArray>
#include <QJsonObject>
#include <QObject>
#include <QPointer>

#include <memory>
#include <vector>

QT_BEGIN_NAMESPACE
class QTcpSocket;
QT_END_NAMESPACE

namespace iptv::recast {

/// What every channel's MPEG-TS viewers may hold in unsent bytes together (one per server). A
/// viewer that stopped reading holds up to the per-viewer limit; thousands of them (a client that
/// opens connections and never reads) would hold gigabytes. Past `limitBytes`, a viewer holding
/// more than kFairBacklogBytes is dropped as too slow at its channel's next write.
struct ViewerBudget
{
    qint64 limitBytes = 256 * 1024 * 1024;
    qint64 heldBytes = 0; ///< by every channel's viewers, as of each channel's last write
    Counter *dropped = nullptr; ///< viewers dropped because the budget was used up (optional)
};

class Channel : public QObject
{
    Q_OBJECT
public:
    /// `outputRoot` holds one folder per channel.
    Channel(ChannelConfig config, const QString &outputRoot, QObject *parent = nullptr);
    ~Channel() override;

    void start();
    /// Finishes the segments in progress; viewers of the TS output are disconnected.
    void stop();
    /// Starts stop() without waiting for the pipeline (stop() then waits).
    void requestStop();
    bool isRunning() const { return m_pipeline != nullptr; }

    const ChannelConfig &config() const { return m_config; }
    QString folder() const { return m_folder; }
    ChannelState state() const;
    PipelineStats stats() const;

    /// Rendition index by name ("720p", or "source" in pass-through), -1 when unknown.
    int renditionIndex(const QString &name) const;
    QStringList renditionNames() const;
    QByteArray masterPlaylist() const { return m_master; }
    QByteArray playlist(int rendition) const;
    /// What a blocking playlist reload waits for: the next segment's sequence number and the
    /// parts already listed of the segment in progress.
    qint64 nextSequence(int rendition) const;
    int partsInProgress(int rendition) const;

    /// Starts streaming rendition `rendition` as MPEG-TS to `socket` (an HTTP answer whose
    /// headers are written). With the cache the viewer starts at once at the last keyframe;
    /// without it, at the next keyframe.
    void addViewer(QTcpSocket *socket, int rendition, bool fromCache);
    int viewerCount() const;
    quint64 viewersDropped() const { return m_viewersDropped; }

    QJsonObject toJson(bool withStats) const;

    /// A viewer further behind than this is disconnected (it would hold memory for ever).
    static constexpr qint64 kViewerBacklogBytes = 8 * 1024 * 1024;
    /// Tests lower the limit, so a slow viewer is found in seconds at a test channel's bitrate.
    void setViewerBacklogLimit(qint64 bytes) { m_viewerBacklogLimit = bytes; }
    /// Past the server's budget a viewer may hold this much before it is dropped: a viewer that
    /// reads keeps next to nothing unsent (the kernel's buffers take a GOP or more).
    static constexpr qint64 kFairBacklogBytes = 1024 * 1024;
    /// The budget shared with the server's other channels (it outlives the channel); none: only
    /// the per-viewer limit applies.
    void setViewerBudget(ViewerBudget *budget) { m_budget = budget; }
    /// The output backlogs' server-wide limit (it outlives the channel); none: only the
    /// channel's own output_backlog_kib applies. Before start().
    void setOutputBacklogBudget(OutputBacklogBudget *budget) { m_backlog->setBudget(budget); }
    /// See Pipeline::setThreadNice; for the pipelines started from now on.
    void setThreadNice(int nice) { m_threadNice = nice; }
    /// The most of the output backlog one call on the server's thread takes: the rest waits for
    /// the next turn of the event loop, so timers, requests and the other channels come between.
    static constexpr qint64 kDrainSliceBytes = 512 * 1024;
    /// Bytes this channel's viewers hold unsent, as of the last write.
    qint64 viewerBacklogBytes() const { return m_heldBytes; }
    /// What the pipeline has output and this (the server's) thread has not taken yet, and what
    /// was dropped because this thread fell behind by more than `output_backlog_kib`.
    OutputBacklog::Stats outputBacklog() const { return m_backlog->stats(); }
    qint64 outputBacklogLimit() const { return m_backlog->limitBytes(); }

Q_SIGNALS:
    void playlistChanged(int rendition);
    void stateChanged(iptv::recast::ChannelState state, const QString &reason);

private:
    struct Viewer
    {
        QPointer<QTcpSocket> socket;
        int rendition = 0;
        bool waitingForKeyframe = false;
    };
    struct RenditionOut
    {
        std::unique_ptr<media::KeyframeCache> cache;
        QByteArray playlist;
        qint64 nextSequence = 0;
        int parts = 0;
    };
    /// Takes what the pipeline output since the last call (on this object's thread), at most
    /// kDrainSliceBytes; queues itself again for the rest.
    void drainBacklog();
    /// Takes and hands on at most `maxBytes`; true when more is left.
    bool drainSlice(qint64 maxBytes);
    void onTsBytes(int rendition, const QByteArray &ts, bool keyframe, QList<QByteArray> *spent);
    void onPlaylist(int rendition, const QByteArray &text, qint64 nextSequence, int parts);
    void setHeldBytes(qint64 bytes);

    ChannelConfig m_config;
    QString m_folder;
    std::unique_ptr<OutputBacklog> m_backlog; ///< between the pipeline's thread and this one
    std::unique_ptr<Pipeline> m_pipeline;
    std::vector<RenditionOut> m_out;
    QByteArray m_master;
    QList<Viewer> m_viewers;
    quint64 m_viewersDropped = 0;
    qint64 m_viewerBacklogLimit = kViewerBacklogBytes;
    ViewerBudget *m_budget = nullptr;
    qint64 m_heldBytes = 0;
    ChannelState m_stoppedState = ChannelState::Stopped;
    int m_threadNice = 0;
};

} // namespace iptv::recast
