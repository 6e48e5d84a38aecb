// What a viewer changes besides rules: stopping a recording in progress and keeping it, and the
// airings viewers skipped (the scheduler plans them for no one; the routes are in diverroutes.cpp).

#include "diverserver.h"

#include <dvr/recorder.h>

#include <QDir>
#include <QLoggingCategory>

Q_DECLARE_LOGGING_CATEGORY(lcDiver)

namespace iptv::diver {

bool DiverServer::reloadCancelled(QString *error)
{
    const auto skipped = m_rules.cancelled(now(), error);
    if (!skipped)
        return false;
    m_scheduler.setCancelled(*skipped);
    return true;
}

std::optional<RecordingRow> DiverServer::stopRecording(RecordingRow row, QString *error)
{
    const qint64 t = now();
    if (row.stopped != 0 || row.recordStop <= t)
        return row; // ended already
    std::optional<CopyRow> copy;
    if (row.copyId != 0) {
        copy = m_store.copy(row.copyId, error);
        if (!copy)
            return error->isEmpty() ? std::optional<RecordingRow>(row) : std::nullopt;
        if (copy->state != CopyState::Recording)
            return row; // finished or failed: nothing records it any more
    }
    // Stopped on purpose: the rule does not plan the airing again (not even a series rule with
    // the airing still on). Another viewer's rule is not touched. Skipped first and stopped only
    // then, as DELETE does: stopped first, a crash before the skip (or a skip the database
    // refuses) let the next plan record the airing again at once. A skip that cannot be written
    // leaves the recording as it is (the caller answers 500).
    const auto takeSkipBack = [&] {
        QString e;
        if (!m_rules.removeCancelled(row.ruleId, row.channelId, row.airingStart, &e))
            qCWarning(lcDiver).noquote() << "recording" << row.id << "is not stopped, and rule" << row.ruleId
                                         << "still skips its airing:" << e;
        announce(ClusterChange::Kind::Rule, row.ruleId);
        if (!reloadCancelled(&e))
            qCWarning(lcDiver).noquote() << "the skipped airings are not read again:" << e;
    };
    if (!m_rules.addCancelled({row.ruleId, row.channelId, row.airingStart, row.airingStop, row.title}, error)) {
        *error = QStringLiteral("its rule cannot be made to skip the airing (it would record it again): %1").arg(*error);
        return std::nullopt;
    }
    if (!reloadCancelled(error)) {
        *error = QStringLiteral("its rule cannot be made to skip the airing (it would record it again): %1").arg(*error);
        takeSkipBack();
        return std::nullopt;
    }
    announce(ClusterChange::Kind::Rule, row.ruleId);
    // A transition of the row (not a write of the row read before): stopped meanwhile on another
    // node, or ended, it is left as it is and read again.
    const std::optional<bool> stopped = m_store.stopRecordingAt(row.id, t, error);
    if (!stopped) {
        takeSkipBack();
        return std::nullopt;
    }
    if (!*stopped) {
        const auto fresh = m_store.recording(row.id, error);
        if (!fresh && error->isEmpty())
            *error = QStringLiteral("recording %1 was deleted meanwhile").arg(row.id);
        // Ended on its own: its airing is not skipped. Stopped or deleted by another node, the
        // skip is that node's too (the same row) and stays.
        if (fresh && fresh->stopped == 0)
            takeSkipBack();
        return fresh;
    }
    row.recordStop = std::max(row.recordStart, t);
    row.stopped = t;
    if (copy) {
        // The copy records on as long as another viewer's recording (made, or planned and not yet
        // begun: a shorter pre-padding) needs it; a copy nobody needs any more ends now, kept.
        qint64 needed = t;
        QString e;
        if (const auto viewers = m_store.recordingsOfCopy(copy->id, &e)) {
            for (const RecordingRow &r : *viewers)
                if (r.id != row.id && !r.deleted && r.stopped == 0)
                    needed = std::max(needed, r.recordStop);
        }
        for (const dvr::PlannedRecording &p : std::as_const(m_plan.recordings)) {
            if (p.channelId == copy->channelId && p.start == copy->airingStart && !(p.ruleId == row.ruleId && p.owner == row.owner))
                needed = std::max(needed, p.recordStop);
        }
        if (needed < copy->recordStop) {
            // One conditional UPDATE of the end alone: the node recording the copy writes its
            // figures without the end (RecordingStore::updateCopy), so it cannot put the old end
            // back; told at once (copy-end), it moves its recorder's stop (followCopyEnds).
            if (const auto stored = m_store.endCopyAt(copy->id, needed, &e); !stored) {
                qCWarning(lcDiver).noquote() << "copy" << copy->id << "of" << copy->channelId << "is not shortened:" << e;
            } else {
                announce(ClusterChange::Kind::CopyEnd, copy->id);
                if (*stored > 0)
                    needed = *stored; // what the row says now (a viewer joined meanwhile: later)
            }
            if (ActiveCopy *active = m_copies.value(copy->id))
                moveActiveCopyEnd(active, needed);
            qCInfo(lcDiver).noquote() << "copy" << copy->id << "of" << copy->channelId << "now ends at" << needed
                                      << (needed <= t ? "(no other viewer records it)" : "(other viewers record it until then)");
        }
    } else if (auto range = m_archiveRanges.find(row.id); range != m_archiveRanges.end()) {
        range->recordStop = row.recordStop; // its "finished" once the archive holds its end
    }
    qCInfo(lcDiver).noquote() << "recording" << row.id << row.title << "on" << row.channelId << "for" << row.owner
                              << "stopped by the viewer and kept";
    replan(false);
    if (copy)
        publish(QStringLiteral("finished"), recordingJson(row, {}, false), row.owner);
    return row;
}

void DiverServer::removeCopyFolder(const CopyRow &copy)
{
    // A copy's folder is named by its id (copyFolderName): a new copy of the airing made
    // meanwhile has a folder of its own. Copies made before that were named by the airing
    // alone: a new copy made with such a name (by a node of an older version) keeps it.
    QString error;
    const auto again = m_store.copyOf(copy.channelId, copy.airingStart, &error);
    if (!error.isEmpty()) {
        qCWarning(lcDiver).noquote() << "copy" << copy.id << "is deleted; its folder" << copy.directory
                                     << "stays: whether a new copy of the airing uses it cannot be read:" << error;
        return;
    }
    if (again && QDir::cleanPath(again->directory) == QDir::cleanPath(copy.directory)) {
        qCInfo(lcDiver).noquote() << "copy" << copy.id << "is deleted; its folder" << copy.directory << "stays for copy" << again->id
                                  << "of the same airing";
        return;
    }
    QDir(copy.directory).removeRecursively();
}

} // namespace iptv::diver
