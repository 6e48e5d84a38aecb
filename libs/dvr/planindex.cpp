#include "planindex.h"

#include <algorithm>
#include <limits>

namespace iptv::dvr {

namespace {
/// A fresh index's keys: chunk i gets (i + 1) << 32, so that 2^32 - 1 new chunks fit between two.
constexpr int kKeyShift = 32;
constexpr quint64 kKeyStep = quint64(1) << kKeyShift;
} // namespace

void PlanIndex::addChunk(qsizetype chunk, QHash<QString, std::vector<Entry>> *byOwner) const
{
    const PlannedRecordings::Chunk &recordings = m_recordings.chunks().at(chunk);
    const quint64 key = m_chunkKeys[size_t(chunk)];
    // A chunk's recordings are by time: an owner's often come in runs of one (a viewer's two rules
    // rarely record at once), so the list of the last one looked up is kept.
    const QString *lastOwner = nullptr;
    std::vector<Entry> *list = nullptr;
    for (qsizetype at = 0; at < recordings.size(); ++at) {
        const PlannedRecording &p = recordings.at(at);
        if (!lastOwner || *lastOwner != p.owner) {
            list = &(*byOwner)[p.owner];
            lastOwner = &p.owner;
        }
        list->push_back({key, at, &p});
    }
}

void PlanIndex::rebuild(const SchedulePlan &plan)
{
    m_stats = {};
    m_partRanges.clear();
    rebuildRecordings(plan);
    indexSkipped(plan);
}

void PlanIndex::index(const SchedulePlan &plan)
{
    m_stats = {};
    if (!indexRecordings(plan))
        rebuildRecordings(plan);
    indexSkipped(plan);
}

void PlanIndex::rebuildRecordings(const SchedulePlan &plan)
{
    m_stats.rebuilt = true;
    m_recordings = plan.recordings;
    const qsizetype chunks = m_recordings.chunks().size();
    m_chunkKeys.resize(size_t(chunks));
    for (qsizetype i = 0; i < chunks; ++i)
        m_chunkKeys[size_t(i)] = quint64(i + 1) << kKeyShift;
    m_byOwner.clear();
    for (qsizetype i = 0; i < chunks; ++i)
        addChunk(i, &m_byOwner); // in chunk order: each owner's list comes sorted
    m_stats.chunksRead = chunks;
    m_stats.ownersChanged = m_byOwner.size();
}

bool PlanIndex::indexRecordings(const SchedulePlan &plan)
{
    const QList<PlannedRecordings::Chunk> &now = plan.recordings.chunks();
    const QList<PlannedRecordings::Chunk> &was = m_recordings.chunks();
    if (was.isEmpty() || now.isEmpty())
        return false;
    // A chunk the new plan shares with the last is the very same list (same data, held by both).
    QHash<const PlannedRecording *, qsizetype> wasAt;
    wasAt.reserve(was.size());
    for (qsizetype i = 0; i < was.size(); ++i)
        wasAt.insert(was[i].constData(), i);
    std::vector<qsizetype> keptFrom(size_t(now.size()), -1); // per new chunk: the old one it is, or -1
    qsizetype lastKept = -1, kept = 0;
    for (qsizetype j = 0; j < now.size(); ++j) {
        const auto it = wasAt.constFind(now[j].constData());
        if (it == wasAt.cend() || *it <= lastKept || was[*it].size() != now[j].size())
            continue;
        keptFrom[size_t(j)] = lastKept = *it;
        ++kept;
    }
    if (now.size() - kept > now.size() / 2)
        return false;

    // Keys: a kept chunk keeps its own; a run of new ones is spread between its neighbours' keys.
    std::vector<quint64> keys(size_t(now.size()));
    for (qsizetype j = 0; j < now.size();) {
        if (keptFrom[size_t(j)] >= 0) {
            keys[size_t(j)] = m_chunkKeys[size_t(keptFrom[size_t(j)])];
            ++j;
            continue;
        }
        qsizetype end = j;
        while (end < now.size() && keptFrom[size_t(end)] < 0)
            ++end;
        const quint64 low = j > 0 ? keys[size_t(j - 1)] : 0;
        const bool last = end == now.size();
        const quint64 high = last ? std::numeric_limits<quint64>::max() : m_chunkKeys[size_t(keptFrom[size_t(end)])];
        const quint64 count = quint64(end - j);
        quint64 step = (high - low) / (count + 1);
        if (last)
            step = std::min(step, kKeyStep); // room for later plans' chunks at the end too
        if (step == 0)
            return false; // no room left between two keys: numbered afresh
        for (qsizetype k = j; k < end; ++k)
            keys[size_t(k)] = low + step * quint64(k - j + 1);
        j = end;
    }

    // The old chunks not kept: their recordings leave their owners' lists.
    std::vector<char> oldKept(size_t(was.size()), 0);
    for (const qsizetype i : keptFrom)
        if (i >= 0)
            oldKept[size_t(i)] = 1;
    QSet<quint64> goneKeys;
    QSet<QString> changedOwners;
    for (qsizetype i = 0; i < was.size(); ++i) {
        if (oldKept[size_t(i)])
            continue;
        goneKeys.insert(m_chunkKeys[size_t(i)]);
        for (const PlannedRecording &p : was[i])
            changedOwners.insert(p.owner);
    }
    m_recordings = plan.recordings; // the old chunks' entries are gone or go below, unread
    m_chunkKeys = std::move(keys);
    QHash<QString, std::vector<Entry>> added;
    qsizetype read = 0;
    for (qsizetype j = 0; j < now.size(); ++j) {
        if (keptFrom[size_t(j)] < 0) {
            addChunk(j, &added);
            ++read;
        }
    }
    for (auto it = added.cbegin(); it != added.cend(); ++it)
        changedOwners.insert(it.key());
    for (const QString &owner : std::as_const(changedOwners)) {
        auto list = m_byOwner.find(owner);
        if (list == m_byOwner.end())
            list = m_byOwner.insert(owner, {});
        std::vector<Entry> &entries = *list;
        if (!goneKeys.isEmpty())
            entries.erase(std::remove_if(entries.begin(), entries.end(), [&](const Entry &e) { return goneKeys.contains(e.chunkKey); }),
                          entries.end());
        if (const auto come = added.constFind(owner); come != added.cend()) {
            // Both sorted (the new ones came in chunk order, whose keys increase): merged.
            const auto middle = entries.insert(entries.end(), come->cbegin(), come->cend());
            std::inplace_merge(entries.begin(), middle, entries.end());
        }
        if (entries.empty())
            m_byOwner.erase(list);
    }
    m_stats.chunksRead = read;
    m_stats.chunksKept = kept;
    m_stats.ownersChanged = changedOwners.size();
    return true;
}

void PlanIndex::indexSkipped(const SchedulePlan &plan)
{
    const SkippedAirings before = m_skipped; // holds the old parts while their data is looked up
    const QHash<const SkippedAiring *, std::pair<qsizetype, QList<SkipRange>>> wasRanges = std::move(m_partRanges);
    m_partRanges.clear();
    m_skipped = plan.skipped;
    m_reports = plan.ruleReports;
    m_skippedByRule.clear();
    const QList<QList<SkippedAiring>> &parts = m_skipped.parts();
    m_skippedByRule.reserve(parts.size());
    m_partRanges.reserve(parts.size());
    for (qsizetype p = 0; p < parts.size(); ++p) {
        const QList<SkippedAiring> &part = parts[p];
        QList<SkipRange> ranges;
        if (const auto was = wasRanges.constFind(part.constData()); was != wasRanges.cend() && was->first == part.size()) {
            ranges = was->second;
            for (SkipRange &r : ranges)
                r.part = p;
            ++m_stats.partsKept;
        } else {
            // A part is one rule's (SkippedAirings); read as runs of one rule all the same.
            qsizetype from = 0, conflicts = 0;
            for (qsizetype k = 0; k < part.size(); ++k) {
                if (k > from && part[k].airing.ruleId != part[from].airing.ruleId) {
                    ranges.append({part[from].airing.ruleId, p, from, k, conflicts});
                    from = k;
                    conflicts = 0;
                }
                conflicts += part[k].reason == SkipReason::Conflict;
            }
            if (!part.isEmpty())
                ranges.append({part[from].airing.ruleId, p, from, part.size(), conflicts});
            ++m_stats.partsRead;
        }
        for (const SkipRange &r : std::as_const(ranges))
            m_skippedByRule[r.ruleId].append(r);
        m_partRanges.insert(part.constData(), {part.size(), std::move(ranges)});
    }
    m_reportsByRule.clear();
    for (qsizetype i = 0; i < m_reports.size(); ++i)
        m_reportsByRule[m_reports[i].ruleId].append(i);
}

QList<const PlannedRecording *> PlanIndex::recordingsOf(const QString &owner) const
{
    QList<const PlannedRecording *> out;
    const auto it = m_byOwner.constFind(owner);
    if (it == m_byOwner.cend())
        return out;
    out.reserve(qsizetype(it->size()));
    for (const Entry &e : *it)
        out.append(e.recording);
    return out;
}

qsizetype PlanIndex::recordingCount(const QString &owner) const
{
    const auto it = m_byOwner.constFind(owner);
    return it == m_byOwner.cend() ? 0 : qsizetype(it->size());
}

QList<PlanIndex::SkipRange> PlanIndex::rangesOf(const QSet<qint64> &ruleIds) const
{
    QList<SkipRange> ranges;
    for (const qint64 id : ruleIds) {
        if (const auto it = m_skippedByRule.constFind(id); it != m_skippedByRule.cend())
            ranges.append(*it);
    }
    std::sort(ranges.begin(), ranges.end(), [](const SkipRange &a, const SkipRange &b) {
        return a.part != b.part ? a.part < b.part : a.from < b.from;
    });
    return ranges;
}

QList<const SkippedAiring *> PlanIndex::skippedOf(const QSet<qint64> &ruleIds) const
{
    QList<const SkippedAiring *> out;
    const QList<QList<SkippedAiring>> &parts = m_skipped.parts();
    for (const SkipRange &r : rangesOf(ruleIds)) {
        for (qsizetype k = r.from; k < r.to; ++k)
            out.append(&parts[r.part][k]);
    }
    return out;
}

QList<const SkippedAiring *> PlanIndex::skippedOf(qint64 ruleId) const
{
    return skippedOf(QSet<qint64>{ruleId});
}

qsizetype PlanIndex::conflictsOf(const QSet<qint64> &ruleIds) const
{
    qsizetype conflicts = 0;
    for (const qint64 id : ruleIds) {
        if (const auto it = m_skippedByRule.constFind(id); it != m_skippedByRule.cend())
            for (const SkipRange &r : *it)
                conflicts += r.conflicts;
    }
    return conflicts;
}

QList<const RuleReport *> PlanIndex::reportsOf(qint64 ruleId) const
{
    QList<const RuleReport *> out;
    for (const qsizetype i : m_reportsByRule.value(ruleId))
        out.append(&m_reports[i]);
    return out;
}

} // namespace iptv::dvr
