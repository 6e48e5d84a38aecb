#pragma once

// Recording rules: what a viewer asked Diver to record. One airing, or a series picked by its
// series id, its title or a regular expression over titles, narrowed by channel, days and time of
// day and "new episodes only", with padding, a priority, keep-N and duplicate handling
// (duplicate.h). The scheduler (scheduler.h) turns the rules and the guide into a plan.
// Rules travel as JSON (the HTTP API) and are kept in SQL (rulestore.h).

#include <QByteArray>
#include <QJsonObject>
#include <QRegularExpression>
#include <QString>
#include <QTimeZone>
#include <QtGlobal>

#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace iptv::epg {
class Guide;
}

namespace iptv::dvr {

enum class RuleKind : quint8 {
    Single,   ///< one airing: channelId + start
    SeriesId, ///< every airing whose programme id (dd_progid) belongs to seriesId
    Title,    ///< every airing whose title equals `title`, case-insensitively
    Regex,    ///< every airing whose title matches `pattern` (case-insensitive, unanchored)
};

/// Which duplicate layers decide that two airings are the same episode (duplicate.h).
enum DuplicateMethod : quint8 {
    DuplicateIds = 1 << 0,            ///< programme id, or series id + episode number
    DuplicateEpisodeNumber = 1 << 1,  ///< title + season/episode number
    DuplicateSubTitle = 1 << 2,       ///< title + normalised sub-title
    DuplicateDescription = 1 << 3,    ///< title + normalised description
    DuplicateAllLayers = 0x0f,
};

/// Where an episode already planned or recorded makes an airing a duplicate.
enum class DuplicateScope : quint8 {
    None,     ///< record every matching airing (news, sport)
    Rule,     ///< episodes of this rule only (MythTV dupin "this rule", Tvheadend "record if different ... in this rule")
    AllRules, ///< episodes of any of the owner's rules (never another viewer's)
};

/// What keep-N does once N episodes are kept.
enum class KeepPolicy : quint8 {
    StopWhenFull,  ///< record no more until the viewer deletes some
    ReplaceOldest, ///< go on recording; retention deletes the oldest
};

/// When a series rule may record: days of week and a time of day, in a time zone.
struct TimeWindow
{
    quint8 days = 0x7f;     ///< bit 0 = Monday ... bit 6 = Sunday
    int fromMinute = 0;     ///< minute of the day, 0-1439, local time; the airing's start counts
    int toMinute = 0;       ///< exclusive; from == to: the whole day; from > to: across midnight
    QString timeZone;       ///< IANA id; empty = UTC

    bool isUnrestricted() const { return (days & 0x7f) == 0x7f && fromMinute == toMinute; }
    /// Does an airing starting at `utcStart` fall in the window?
    bool contains(qint64 utcStart) const;
    /// The same with the zone of `timeZone` already made (the scheduler asks for every airing).
    bool contains(qint64 utcStart, const QTimeZone &zone) const;
    friend bool operator==(const TimeWindow &, const TimeWindow &) = default;
};

/// How many regex patterns validate() has probed for their cost in this process: each once
/// while it is among the last 256 probed, however often a rule is validated.
quint64 regexCostProbes();

/// Whether `id` names a zone of the system's time zone database: one QTimeZone lists
/// (availableTimeZoneIds()) or a link of it (Etc/UTC, US/Eastern). Never a path: QTimeZone opens
/// <zoneinfo>/<id> as given, so "../../dev/stdin" would block the caller for good.
bool isKnownTimeZoneId(const QString &id);
/// The zone of `id` when isKnownTimeZoneId(), otherwise an invalid zone (nothing is opened).
QTimeZone timeZoneFromId(const QString &id);

struct RecordingRule
{
    qint64 id = 0;            ///< assigned by the store; 0 = not stored yet
    RuleKind kind = RuleKind::Single;
    QString owner;            ///< the viewer (box identity) the recordings belong to
    bool enabled = true;
    qint64 created = 0;       ///< UTC seconds; breaks priority ties (older first)

    QString channelId;        ///< Single: the airing's channel; others: only this channel (empty = any)
    qint64 start = 0;         ///< Single: the airing's start, UTC seconds
    QString seriesId;         ///< SeriesId: "SH01234567", "EP01234567" or a whole dd_progid
    QString title;            ///< Title
    QString pattern;          ///< Regex (PCRE, case-insensitive)

    TimeWindow window;        ///< not for Single
    bool newOnly = false;     ///< skip airings flagged previously-shown and not flagged new
    int keep = 0;             ///< keep up to N episodes; 0 = no limit
    KeepPolicy keepPolicy = KeepPolicy::StopWhenFull;
    int prePadding = 0;       ///< seconds recorded before the start
    int postPadding = 0;      ///< seconds recorded after the stop
    int priority = 0;         ///< higher wins a conflict with the same owner's rules
    /// The operator's tier: rules of a higher tier come before every rule of a lower one, across
    /// viewers (priorityOrder). Set only by the operator (diver refuses it from a box); 0 = none,
    /// at most MaxOperatorPriority (validate()).
    int operatorPriority = 0;
    static constexpr int MaxOperatorPriority = 100;
    DuplicateScope duplicateScope = DuplicateScope::Rule;
    quint8 duplicateMethod = DuplicateAllLayers;

    bool isSeries() const { return kind != RuleKind::Single; }

    /// Checks the rule alone and, when `guide` is given, against it: a Single rule must name a
    /// known channel and an airing starting there at `start` that has not ended by `now`; a
    /// channel filter must be a known channel. False with *error saying which field and why.
    bool validate(QString *error, const epg::Guide *guide = nullptr, qint64 now = 0) const;

    QJsonObject toJson() const;
    /// Reads what toJson() wrote; unknown keys are ignored, wrong types refused with *error
    /// naming the key. Does not validate() (the caller does, with the guide at hand).
    static std::optional<RecordingRule> fromJson(const QJsonObject &json, QString *error);

    friend bool operator==(const RecordingRule &, const RecordingRule &) = default;
};

/// The priority order of `count` rules (ruleAt(i) is the i-th): their indexes, the first wins a
/// conflict (docs/dvr-scheduler.md, "Priority order"). The operator's tier (operatorPriority)
/// first, the higher before; within a tier, a viewer's `priority` orders only its own rules, and
/// across viewers (owners) every viewer's first rule comes before anyone's second, and so on.
std::vector<int> priorityOrder(int count, const std::function<const RecordingRule &(int)> &ruleAt);

QString ruleKindName(RuleKind kind);
std::optional<RuleKind> ruleKindFromName(QStringView name);
QString duplicateScopeName(DuplicateScope scope);
std::optional<DuplicateScope> duplicateScopeFromName(QStringView name);

/// Normalises a series id as the guide's programme ids carry it: "EP01234567.0003",
/// "EP012345670003" and "SH01234567" all give "SH01234567" (Schedules Direct: the series is the
/// 8 digits after a 2-letter type; EP and SH share them). Other forms are kept, trimmed.
QString normaliseSeriesId(QStringView id);

/// A regex rule's pattern as the scheduler matches titles with it: case-insensitive, with a test
/// that rejects a title in a few instructions when the pattern begins with literal text the
/// title lacks (QRegularExpression::match costs a microsecond even when it fails at once, and
/// every regex rule is tried against every title of a guide). The test never changes an answer.
class TitlePattern
{
public:
    TitlePattern() = default;
    explicit TitlePattern(const QString &pattern);

    bool isValid() const { return bool(m_compiled); }
    /// Whether the pattern matches `title`. Matching is bounded (PCRE2's match limit): a pattern
    /// that validation let through but that backtracks past the bound on some title of the guide
    /// gives up there and then matches nothing more (gaveUp()), rather than cost a scheduler
    /// evaluation seconds on every title. Thread-safe; copies share what was given up.
    bool matches(const QString &title) const;
    /// Whether matching went past the bound on some title; that title then.
    bool gaveUp() const;
    QString costlyTitle() const;
    /// The literal (ASCII, lower case) every match begins with; empty when the pattern has none
    /// that is sure (an alternation anywhere, a quantified first character, a class).
    const QByteArray &literal() const { return m_literal; }
    /// Whether every match begins at the title's start (a leading ^).
    bool isAnchored() const { return m_anchored; }

private:
    struct Compiled;
    std::shared_ptr<Compiled> m_compiled;
    QByteArray m_literal;
    bool m_anchored = false;
    /// The whole pattern is ^ and the literal (then \b): decided without PCRE2 for ASCII titles.
    enum class Whole : quint8 { No, Literal, LiteralWordEnd } m_whole = Whole::No;
};

} // namespace iptv::dvr
