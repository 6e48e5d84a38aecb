#pragma once

// Duplicate detection in layers (after MythTV's dupmethod/dupin and Tvheadend's duplicate
// handling). Each airing's programme gets an EpisodeIdentity: one key per layer, 0 where the
// guide does not say enough for that layer:
//   1. ids:         the programme id (dd_progid with an episode part), or series id + episode number
//   2. episode:     normalised title + season/episode number (xmltv_ns, onscreen "S1 E4")
//   3. sub-title:   normalised title + normalised sub-title
//   4. description: normalised title + normalised description
// Two airings are the same episode when, at the first enabled layer where both have a key, the
// keys are equal; when they differ there, they are different episodes whatever later layers say
// (two episodes may share a generic description). No comparable layer: not duplicates.
// Normalised = case folded, punctuation dropped, runs of whitespace folded to one space.
// Keys are 64-bit hashes of the normalised text (a collision needs ~4e9 distinct episodes):
// SipHash-2-4 with a constant key (docs/dvr-scheduler.md, "The keys"), the same in every process
// and on every CPU, as the history keeps them (RuleStore). Changing them needs a schema version.

#include "rule.h"

#include <epg/programme.h>

#include <QHash>
#include <QList>
#include <QString>

#include <vector>

namespace iptv::epg {
class Guide;
}

namespace iptv::dvr {

/// Case folded, punctuation dropped, whitespace folded: "The  End?!" and "the end" are equal.
QString normaliseText(QStringView text);
/// Title for title rules: case folded and trimmed, punctuation kept ("exact, case-insensitive").
QString foldTitle(QStringView title);
/// The key title rules and the guide's titles are matched by: a hash of foldTitle().
quint64 titleKey(QStringView title);
/// The key series-id rules and programmes are matched by: a hash of normaliseSeriesId(); 0 for "".
quint64 seriesKey(QStringView seriesId);
/// The same from UTF-8 bytes (a guide's string), without making a QString.
quint64 seriesKeyUtf8(QByteArrayView seriesId);

struct EpisodeNumber
{
    int season = -1;  ///< 1-based; -1 unknown
    int episode = -1; ///< 1-based; -1 unknown
    bool isValid() const { return episode > 0; }
};

/// Parses one <episode-num>: xmltv_ns ("0.3/10." = S1 E4), onscreen ("S01E04", "S1 E4", "1x04").
EpisodeNumber parseEpisodeNumber(QStringView system, QStringView value);

enum class DuplicateLayer : quint8 { None, Ids, EpisodeNumber, SubTitle, Description };
QString duplicateLayerName(DuplicateLayer layer);

struct EpisodeIdentity
{
    quint64 title = 0;       ///< normalised title alone (reporting, keep-N grouping)
    quint64 ids = 0;
    quint64 episode = 0;
    quint64 subTitle = 0;
    quint64 description = 0;
    quint64 series = 0;      ///< normalised series id, for series-id rules; 0 = none

    /// The layer's key (0: none); inline, as duplicate checks read it for every candidate.
    quint64 key(DuplicateLayer layer) const
    {
        switch (layer) {
        case DuplicateLayer::Ids: return ids;
        case DuplicateLayer::EpisodeNumber: return episode;
        case DuplicateLayer::SubTitle: return subTitle;
        case DuplicateLayer::Description: return description;
        case DuplicateLayer::None: break;
        }
        return 0;
    }
    friend bool operator==(const EpisodeIdentity &, const EpisodeIdentity &) = default;
};

/// The identity of a programme from its fields (the guide's, or a recording's kept metadata).
EpisodeIdentity episodeIdentity(QStringView title, QStringView subTitle, QStringView description,
                                const QList<epg::EpisodeNum> &episodeNums);
/// The same from a guide's UTF-8 strings (episode numbers as system, value pairs): equal to
/// episodeIdentity() of the decoded text, without making QStrings of ASCII text (the scheduler
/// computes it for every programme a rule matches).
EpisodeIdentity episodeIdentityUtf8(QByteArrayView title, QByteArrayView subTitle, QByteArrayView description,
                                    const std::pair<QByteArrayView, QByteArrayView> *episodeNums, qsizetype count);
/// The layer at which a and b are the same episode under `methods` (DuplicateMethod bits), or None.
DuplicateLayer sameEpisode(const EpisodeIdentity &a, const EpisodeIdentity &b, quint8 methods);

/// An episode already recorded (the library): it makes later airings of it duplicates.
struct RecordedEpisode
{
    qint64 ruleId = 0;
    QString title;
    qint64 recordedAt = 0;  ///< the airing's start
    QString channelId;
    EpisodeIdentity identity;
    bool kept = true;       ///< still in the library (counts toward keep-N); false: deleted, still history
    qint64 historyId = 0;   ///< its dvr_history row (RuleStore::history()); 0 before it is stored
    /// What the identity is made of besides the title: the guide's sub-title, description and
    /// episode numbers of the airing, kept with the history (rule schema 4 on) so that its keys
    /// can be made again.
    QString subTitle;
    QString description;
    QList<epg::EpisodeNum> episodeNums;
    /// False for a row stored before rule schema 4 (keys made by a process-seeded hash, no
    /// facts kept) whose airing was not found in a guide yet: only its title key is made again,
    /// its other keys are 0 (it matches no episode) until RuleStore::rememberFacts(), or for
    /// good once its airing is older than the guide (RuleStore::settleWithoutFacts()).
    bool factsKnown = true;
    /// The viewer whose rule recorded it: the scheduler reads it when that rule is gone (a deleted
    /// rule's episodes still count for the viewer's rules with scope "all"); empty before rule
    /// schema 5 for a rule deleted before the upgrade.
    QString owner;
};

/// Finds, among entries added so far, one that is the same episode as a probe. Entries are
/// bucketed by each layer's key and their group (the scheduler's viewer: a viewer's rules never
/// see another's episodes), so a probe looks at the few entries of its group sharing one of its
/// keys, however many groups have the same episode.
class DuplicateIndex
{
public:
    struct Match
    {
        int entry = -1;
        DuplicateLayer layer = DuplicateLayer::None;
        explicit operator bool() const { return entry >= 0; }
    };
    /// Empties the index; its memory is kept for the next use (one index groups rule after rule).
    void clear();
    /// Makes room for `entries` entries without growing the tables on the way.
    void reserve(int entries);
    /// Adds an entry of `group` with an owner tag (the rule id); returns its number.
    int add(const EpisodeIdentity &identity, qint64 owner, quint32 group = 0);
    void remove(int entry); ///< the entry no longer matches anything
    /// The first (lowest numbered) live entry of `group` that is the same episode under
    /// `methods`, limited to entries of `owner` unless owner is 0. Entries of other groups are
    /// never read.
    Match find(const EpisodeIdentity &identity, quint8 methods, qint64 owner = 0, quint32 group = 0) const;

private:
    struct Entry
    {
        EpisodeIdentity identity;
        qint64 owner = 0;
        quint32 group = 0;
        bool live = true;
        int next[4] = {-1, -1, -1, -1}; ///< the previous entry with the same key, per layer
    };
    /// A layer's key within a group: group 0 is the key itself; two groups' keys may meet in
    /// one chain by chance, which find() tells apart by Entry::group.
    static quint64 groupKey(quint64 key, quint32 group)
    {
        const quint64 k = key ^ (quint64(group) * 0xd6e8feb86659fd93ULL);
        return k ? k : 1;
    }
    /// Per layer: group key -> the last entry added with it (entries chain back through Entry::next).
    /// No list per key: the scheduler fills one index per rule and a plan adds 100k entries.
    /// Open addressing over a power-of-two table (keys are hashes, never 0; 0 marks a free slot),
    /// at most half full: no allocation per key, and clear() empties only the slots it used.
    class KeyTable
    {
    public:
        int *find(quint64 key);
        const int *find(quint64 key) const { return const_cast<KeyTable *>(this)->find(key); }
        /// The entry of `key`, made (-1) when new.
        int &operator[](quint64 key);
        void reserve(int keys);
        void clear();

    private:
        size_t slotOf(quint64 key) const { return size_t((key * 0x9e3779b97f4a7c15ULL) >> m_shift); }
        void grow(size_t slots);
        std::vector<std::pair<quint64, int>> m_slots;
        std::vector<quint32> m_used; ///< slots taken, for clear()
        int m_shift = 64;
    };
    std::vector<Entry> m_entries;
    KeyTable m_byKey[4];
};

} // namespace iptv::dvr
