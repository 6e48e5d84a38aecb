#include "rule.h"

#include <epg/guide.h>

#include <QCache>
#include <QDateTime>
#include <QFile>
#include <QJsonArray>
#include <QSet>
#include <QMutex>
#include <QRegularExpression>
#include <QTimeZone>

#include <atomic>
#include <cmath>
#include <iterator>
#include <limits>
#include <memory>
#include <numeric>
#include <string>

#define PCRE2_CODE_UNIT_WIDTH 16
#include <pcre2.h>

namespace iptv::dvr {

namespace {

QString utcText(qint64 t)
{
    return QDateTime::fromSecsSinceEpoch(t, Qt::UTC).toString(Qt::ISODate);
}

/// What a regex rule's pattern may cost. Every regex rule is matched against every title of the
/// guide, on the scheduler's thread: a pattern that backtracks exponentially (nested repetition,
/// "(\w+\s?)+$") takes seconds a title and stalls planning for everyone.
constexpr qsizetype MaxPatternLength = 256;
/// Matches are tried against titles built to make backtracking explode, this long...
constexpr int CostProbeLength = 48;
/// ...within these PCRE2 limits: steps of its matcher (a pattern of polynomial cost up to the
/// cube of a title's length passes, n^4 or exponential does not), backtracking depth, and heap.
constexpr uint32_t CostMatchLimit = 50000;
constexpr uint32_t CostDepthLimit = 1000;
constexpr uint32_t CostHeapLimitKiB = 4096;

/// The title on which `pattern` (a valid one) costs more than the limits, as the scheduler
/// matches titles (TitlePattern: caseless, UTF), or nullopt. The titles are runs of a character
/// or two (the pattern's own letters and digits, a letter, a digit, a space, punctuation, a
/// non-ASCII letter) that end in a character that fails the match, so a matcher that can split
/// the run in many ways tries them all; then the same followed by the pattern's literal
/// characters, which PCRE2 may require to be present before it tries at all.
std::optional<QString> costlyTitle(const QString &pattern)
{
    int errorCode = 0;
    PCRE2_SIZE errorOffset = 0;
    const std::unique_ptr<pcre2_code, decltype(&pcre2_code_free)> code(
        pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.utf16()), PCRE2_SIZE(pattern.size()),
                      PCRE2_UTF | PCRE2_CASELESS | PCRE2_NO_AUTO_CAPTURE, &errorCode, &errorOffset, nullptr),
        &pcre2_code_free);
    if (!code)
        return std::nullopt; // not ours to say: validate() reports QRegularExpression's error
    const std::unique_ptr<pcre2_match_context, decltype(&pcre2_match_context_free)> context(pcre2_match_context_create(nullptr),
                                                                                           &pcre2_match_context_free);
    const std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> data(
        pcre2_match_data_create_from_pattern(code.get(), nullptr), &pcre2_match_data_free);
    if (!context || !data)
        return std::nullopt;
    pcre2_set_match_limit(context.get(), CostMatchLimit);
    pcre2_set_depth_limit(context.get(), CostDepthLimit);
    pcre2_set_heap_limit(context.get(), CostHeapLimitKiB);

    QString own; // the pattern's literal characters (what it may require), once each
    for (qsizetype i = 0; i < pattern.size() && own.size() < 16; ++i) {
        QChar c = pattern.at(i);
        if (c == u'\\' && i + 1 < pattern.size() && !pattern.at(i + 1).isLetterOrNumber())
            c = pattern.at(++i); // "\." is a dot
        else if (!c.isPrint() || QStringView(u"\\^$.|?*+()[]{}").contains(c))
            continue;
        if (!own.contains(c.toLower()))
            own += c.toLower();
    }
    // The pattern's literal pieces ("the " of "the (\w+\s?)+$"), each also put before a run: a
    // pattern that must match one before its costly part never reaches that part otherwise.
    QStringList pieces;
    QString piece;
    for (qsizetype i = 0; i <= pattern.size() && pieces.size() < 4; ++i) {
        QChar c = i < pattern.size() ? pattern.at(i) : QChar();
        const bool escaped = c == u'\\' && i + 1 < pattern.size() && !pattern.at(i + 1).isLetterOrNumber();
        if (escaped)
            c = pattern.at(++i);
        else if (c == u'\\' && i + 1 < pattern.size())
            ++i; // \w, \d, \b...: not a literal, and neither is its letter
        if (!c.isNull() && (escaped || (c.isPrint() && !QStringView(u"\\^$.|?*+()[]{}").contains(c)))) {
            piece += c.toLower();
            continue;
        }
        if (!piece.isEmpty())
            pieces.append(piece.left(16));
        piece.clear();
    }
    pieces.removeDuplicates();
    QStringList units{u"a"_qs, u"1"_qs, u" "_qs, u"-"_qs, u"."_qs, u"\u00e9"_qs, u"a "_qs, u"a1"_qs, u"ab"_qs};
    for (const QChar c : std::as_const(own)) {
        units << QString(c) << QString(c) + u' ';
    }
    units.removeDuplicates();
    for (const QString &unit : std::as_const(units)) {
        QString run;
        while (run.size() < CostProbeLength)
            run += unit;
        QStringList titles{run + u"!\x01"_qs, run + u"\x01"_qs + own};
        for (const QString &before : std::as_const(pieces))
            titles << before + run + u"!\x01"_qs;
        for (const QString &title : std::as_const(titles)) {
            const int rc = pcre2_match(code.get(), reinterpret_cast<PCRE2_SPTR>(title.utf16()), PCRE2_SIZE(title.size()), 0, 0,
                                       data.get(), context.get());
            if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT)
                return title;
        }
    }
    return std::nullopt;
}

std::atomic<quint64> s_costProbes{0};

/// costlyTitle(), remembered for the last patterns probed: a rule is validated by the route
/// that takes it, by the store that saves it and by the scheduler that plans it, and the probe
/// (hundreds of bounded matches) is by far the costliest part of a validation.
std::optional<QString> costlyTitleRemembered(const QString &pattern)
{
    static QMutex mutex;
    static QCache<QString, std::optional<QString>> verdicts(256);
    {
        const QMutexLocker lock(&mutex);
        if (const std::optional<QString> *known = verdicts.object(pattern))
            return *known;
    }
    ++s_costProbes;
    auto verdict = costlyTitle(pattern);
    const QMutexLocker lock(&mutex);
    verdicts.insert(pattern, new std::optional<QString>(verdict));
    return verdict;
}

const char *const s_kindNames[] = {"single", "series-id", "title", "regex"};
const char *const s_scopeNames[] = {"none", "rule", "all"};

} // namespace

std::vector<int> priorityOrder(int count, const std::function<const RecordingRule &(int)> &ruleAt)
{
    // Server facts a box cannot choose: a single airing before a series, the older rule, the
    // lower id (then the index, for rules not stored yet).
    auto serverBefore = [&](int a, int b) {
        const RecordingRule &x = ruleAt(a), &y = ruleAt(b);
        if (x.isSeries() != y.isSeries())
            return !x.isSeries();
        if (x.created != y.created)
            return x.created < y.created;
        if (x.id != y.id)
            return x.id < y.id;
        return a < b;
    };
    // Each viewer's own order within each operator tier: its priority first (a box sets it),
    // then the server facts.
    std::vector<int> own(size_t(std::max(count, 0)));
    std::iota(own.begin(), own.end(), 0);
    std::sort(own.begin(), own.end(), [&](int a, int b) {
        const RecordingRule &x = ruleAt(a), &y = ruleAt(b);
        if (x.operatorPriority != y.operatorPriority)
            return x.operatorPriority > y.operatorPriority;
        if (x.owner != y.owner)
            return x.owner < y.owner;
        if (x.priority != y.priority)
            return x.priority > y.priority;
        return serverBefore(a, b);
    });
    // A rule's round: its place in its viewer's order within its tier. Every viewer's first rule
    // comes before anyone's second, so no priority a box sets moves its rules before another
    // viewer's rules of the same round, and a viewer with many rules takes one place a round like
    // any other. A higher tier (the operator's) comes before every round of a lower one.
    std::vector<int> round(own.size(), 0);
    for (size_t i = 1; i < own.size(); ++i) {
        const RecordingRule &x = ruleAt(own[i]), &previous = ruleAt(own[i - 1]);
        if (x.owner == previous.owner && x.operatorPriority == previous.operatorPriority)
            round[size_t(own[i])] = round[size_t(own[i - 1])] + 1;
    }
    std::vector<int> order = std::move(own);
    std::sort(order.begin(), order.end(), [&](int a, int b) {
        const int tierA = ruleAt(a).operatorPriority, tierB = ruleAt(b).operatorPriority;
        if (tierA != tierB)
            return tierA > tierB;
        if (round[size_t(a)] != round[size_t(b)])
            return round[size_t(a)] < round[size_t(b)];
        return serverBefore(a, b);
    });
    return order;
}

QString ruleKindName(RuleKind kind)
{
    return QString::fromLatin1(s_kindNames[int(kind)]);
}

std::optional<RuleKind> ruleKindFromName(QStringView name)
{
    for (int i = 0; i < 4; ++i)
        if (name == QLatin1StringView(s_kindNames[i]))
            return RuleKind(i);
    return std::nullopt;
}

QString duplicateScopeName(DuplicateScope scope)
{
    return QString::fromLatin1(s_scopeNames[int(scope)]);
}

std::optional<DuplicateScope> duplicateScopeFromName(QStringView name)
{
    for (int i = 0; i < 3; ++i)
        if (name == QLatin1StringView(s_scopeNames[i]))
            return DuplicateScope(i);
    return std::nullopt;
}

QString normaliseSeriesId(QStringView id)
{
    QString s = id.trimmed().toString();
    s.remove(u'.');
    if (s.size() >= 10 && (s.startsWith(u"EP") || s.startsWith(u"SH")))
        return u"SH" + s.mid(2, 8);
    return s;
}

namespace {

/// The literal text every match of `pattern` (PCRE2 syntax, no extended mode) begins with, ASCII
/// and lower-cased: the characters after an optional ^ up to the first that is not sure to be a
/// plain literal. Empty when an alternation could make another branch match.
QByteArray leadingLiteral(QStringView pattern, bool *anchored, qsizetype *consumed = nullptr)
{
    *anchored = pattern.startsWith(u'^');
    if (consumed)
        *consumed = 0;
    QByteArray out;
    if (pattern.contains(u'|'))
        return out; // "^abc|x": the literal is not required (any '|', even escaped: no test)
    static constexpr char16_t metas[] = u"\\^$.[]()?*+{}|";
    qsizetype i = *anchored ? 1 : 0;
    while (i < pattern.size()) {
        const char16_t c = pattern[i].unicode();
        char16_t literal = 0;
        qsizetype next = i + 1;
        if (c == u'\\') {
            // A backslash before an ASCII character that is not a letter or digit makes it literal;
            // before a letter or digit it is a class, an assertion, a reference...: stop.
            if (i + 1 >= pattern.size())
                break;
            const char16_t e = pattern[i + 1].unicode();
            if (e >= 0x80 || (e >= u'a' && e <= u'z') || (e >= u'A' && e <= u'Z') || (e >= u'0' && e <= u'9'))
                break;
            literal = e;
            next = i + 2;
        } else if (c < 0x80 && c >= 0x20 && c != 0x7f && !std::char_traits<char16_t>::find(metas, std::size(metas) - 1, c)) {
            literal = c;
        } else {
            break; // a metacharacter, a control or a non-ASCII character (case folding beyond ASCII)
        }
        // A quantifier makes the character optional or repeated: it is not part of the literal.
        if (next < pattern.size()) {
            const char16_t q = pattern[next].unicode();
            if (q == u'?' || q == u'*' || q == u'+' || q == u'{')
                break;
        }
        out.append(char((literal >= u'A' && literal <= u'Z') ? literal + 32 : literal));
        i = next;
    }
    if (consumed)
        *consumed = i;
    return out;
}

/// Whether PCRE2 (no UCP) counts the ASCII character as a word character for \b.
bool isAsciiWord(char16_t c)
{
    return (c >= u'a' && c <= u'z') || (c >= u'A' && c <= u'Z') || (c >= u'0' && c <= u'9') || c == u'_';
}

/// Whether caseless PCRE2 may match the character (not ASCII) to an ASCII one: those with a case
/// mapping into ASCII (the Kelvin sign 'K', the long s, Turkish dotted I and dotless i). Every
/// other non-ASCII character matches no ASCII character (tst_dvrrule checks every BMP one).
bool mayMatchAscii(char16_t c)
{
    return QChar::toLower(c) < 0x80 || QChar::toUpper(c) < 0x80 || QChar::toCaseFolded(c) < 0x80
        || QChar::toTitleCase(c) < 0x80;
}

/// Could the characters of `title` from `at` match `literal` (ASCII, lower case) caselessly?
/// False only when one surely does not. Units of a surrogate pair never match an ASCII
/// character, so a window holding one fails as the code point would.
bool literalAt(const QChar *title, const QByteArray &literal)
{
    for (qsizetype k = 0; k < literal.size(); ++k) {
        char16_t c = title[k].unicode();
        if (c >= 0x80) {
            if (!mayMatchAscii(c))
                return false;
            continue;
        }
        if (c >= u'A' && c <= u'Z')
            c += 32;
        if (c != char16_t(uchar(literal[k])))
            return false;
    }
    return true;
}

} // namespace

/// A pattern compiled for PCRE2 as QRegularExpression would (caseless, UTF, no captures), JIT
/// when it can be, and what matching gave up on.
struct TitlePattern::Compiled
{
    explicit Compiled(pcre2_code *c) : code(c) {}
    ~Compiled() { pcre2_code_free(code); }
    Q_DISABLE_COPY_MOVE(Compiled)

    pcre2_code *const code;
    std::atomic<bool> gaveUp{false};
    mutable QMutex mutex;
    QString costlyTitle; ///< guarded by mutex
};

namespace {

/// Steps of PCRE2's matcher one title may take at most when the scheduler matches (validation's
/// probe allows 50,000 on its 48-character titles; real titles are longer, and a polynomial
/// pattern there costs more). A million steps is about a millisecond with JIT. PCRE2's own
/// default is ten million, and reads as "no match" when it is reached.
constexpr uint32_t RunMatchLimit = 1000000;

/// Per thread: the match context (limits, a JIT stack as QRegularExpression gives it: up to
/// 512 KiB) and a match data block (one pair: only whether it matched is asked).
struct Matcher
{
    Matcher()
        : context(pcre2_match_context_create(nullptr)),
          stack(pcre2_jit_stack_create(32 * 1024, 512 * 1024, nullptr)),
          data(pcre2_match_data_create(1, nullptr))
    {
        if (context) {
            pcre2_set_match_limit(context, RunMatchLimit);
            pcre2_set_depth_limit(context, RunMatchLimit);
            if (stack)
                pcre2_jit_stack_assign(context, nullptr, stack);
        }
    }
    ~Matcher()
    {
        pcre2_match_data_free(data);
        pcre2_jit_stack_free(stack);
        pcre2_match_context_free(context);
    }
    Q_DISABLE_COPY_MOVE(Matcher)

    pcre2_match_context *const context;
    pcre2_jit_stack *const stack;
    pcre2_match_data *const data;
};

} // namespace

TitlePattern::TitlePattern(const QString &pattern)
{
    int errorCode = 0;
    PCRE2_SIZE errorOffset = 0;
    pcre2_code *code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.utf16()), PCRE2_SIZE(pattern.size()),
                                     PCRE2_UTF | PCRE2_CASELESS | PCRE2_NO_AUTO_CAPTURE, &errorCode, &errorOffset, nullptr);
    if (!code)
        return;
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); // the interpreter matches alike when JIT cannot
    m_compiled = std::make_shared<Compiled>(code);
    qsizetype consumed = 0;
    m_literal = leadingLiteral(pattern, &m_anchored, &consumed);
    // "^literal" and "^literal\b" (what a rule made from a title is) are decided without PCRE2
    // for a title whose characters there are ASCII (matches()).
    if (m_anchored && !m_literal.isEmpty()) {
        const QStringView rest = QStringView(pattern).mid(consumed);
        if (rest.isEmpty())
            m_whole = Whole::Literal;
        else if (rest == u"\\b")
            m_whole = Whole::LiteralWordEnd;
    }
}

bool TitlePattern::matches(const QString &title) const
{
    // Every match begins with the literal, a character of the title for each of it (matched one
    // code point to one: PCRE2 folds no character to several), so a title holding it nowhere (or
    // not at its start, anchored) cannot match.
    if (const qsizetype n = m_literal.size()) {
        if (title.size() < n)
            return false;
        const QChar *t = title.constData();
        if (m_anchored) {
            if (!literalAt(t, m_literal))
                return false;
            if (m_whole != Whole::No) {
                // The pattern is the literal (then \b): with ASCII there (caseless ASCII is one
                // to one), literalAt() was exact; \b compares ASCII word characters (no UCP).
                bool ascii = true;
                for (qsizetype k = 0; k < n && ascii; ++k)
                    ascii = t[k].unicode() < 0x80;
                if (ascii) {
                    if (m_whole == Whole::Literal)
                        return true;
                    const bool wordBefore = isAsciiWord(char16_t(uchar(m_literal.back())));
                    if (n == title.size())
                        return wordBefore;
                    if (t[n].unicode() < 0x80)
                        return wordBefore != isAsciiWord(t[n].unicode());
                }
            }
        } else {
            qsizetype at = 0;
            while (at + n <= title.size() && !literalAt(t + at, m_literal))
                ++at;
            if (at + n > title.size())
                return false;
        }
    }
    if (!m_compiled || m_compiled->gaveUp.load(std::memory_order_relaxed))
        return false;
    thread_local const Matcher matcher;
    if (!matcher.context || !matcher.data)
        return false;
    const int rc = pcre2_match(m_compiled->code, reinterpret_cast<PCRE2_SPTR>(title.utf16()), PCRE2_SIZE(title.size()), 0, 0,
                               matcher.data, matcher.context);
    if (rc >= 0)
        return true;
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT
        || rc == PCRE2_ERROR_JIT_STACKLIMIT) {
        const QMutexLocker lock(&m_compiled->mutex);
        if (!m_compiled->gaveUp.exchange(true))
            m_compiled->costlyTitle = title;
    }
    return false; // no match, or a title that is not valid UTF-16 (as QRegularExpression)
}

bool TitlePattern::gaveUp() const
{
    return m_compiled && m_compiled->gaveUp.load();
}

QString TitlePattern::costlyTitle() const
{
    if (!m_compiled)
        return {};
    const QMutexLocker lock(&m_compiled->mutex);
    return m_compiled->costlyTitle;
}

quint64 regexCostProbes()
{
    return s_costProbes.load();
}

bool isKnownTimeZoneId(const QString &id)
{
    // availableTimeZoneIds() reads the database (milliseconds): once per process.
    static const QSet<QByteArray> known = [] {
        const QList<QByteArray> ids = QTimeZone::availableTimeZoneIds();
        QSet<QByteArray> out(ids.begin(), ids.end());
        // The zones Qt does not list (Etc/UTC, Etc/GMT+5) and the links (US/Eastern), from the
        // database's own summary: "Z <zone> ..." and "L <target> <link>" lines.
        QFile zi(QStringLiteral("/usr/share/zoneinfo/tzdata.zi"));
        if (zi.open(QIODevice::ReadOnly)) {
            while (!zi.atEnd()) {
                const QByteArray line = zi.readLine().trimmed();
                const QList<QByteArray> parts = line.split(' ');
                if (line.startsWith("Z ") && parts.size() >= 2)
                    out.insert(parts[1]);
                else if (line.startsWith("L ") && parts.size() == 3)
                    out.insert(parts[2]);
            }
        }
        return out;
    }();
    if (id.isEmpty() || id.size() > 64)
        return false;
    // Links are names, not paths: no dot-components, no absolute ids (a stray list entry never
    // becomes a way out of the zoneinfo folder).
    if (id.startsWith(u'/') || id.contains(u"..") || id.contains(u'\\'))
        return false;
    return known.contains(id.toUtf8());
}

QTimeZone timeZoneFromId(const QString &id)
{
    return isKnownTimeZoneId(id) ? QTimeZone(id.toUtf8()) : QTimeZone();
}

bool TimeWindow::contains(qint64 utcStart) const
{
    if (isUnrestricted())
        return true;
    return contains(utcStart, timeZone.isEmpty() ? QTimeZone() : timeZoneFromId(timeZone));
}

bool TimeWindow::contains(qint64 utcStart, const QTimeZone &zone) const
{
    if (isUnrestricted())
        return true;
    qint64 local = utcStart;
    if (!timeZone.isEmpty() && zone.isValid())
        local += zone.offsetFromUtc(QDateTime::fromSecsSinceEpoch(utcStart, Qt::UTC));
    // 1970-01-01 was a Thursday (day 3 counting Monday as 0).
    const qint64 dayNumber = local >= 0 ? local / 86400 : (local - 86399) / 86400;
    const int weekday = int(((dayNumber + 3) % 7 + 7) % 7);
    const int minute = int((local - dayNumber * 86400) / 60);
    if (fromMinute == toMinute)
        return days & (1 << weekday);
    if (fromMinute < toMinute)
        return (days & (1 << weekday)) && minute >= fromMinute && minute < toMinute;
    // Across midnight: the part after midnight belongs to the day the window opened.
    if (minute >= fromMinute)
        return days & (1 << weekday);
    if (minute < toMinute)
        return days & (1 << ((weekday + 6) % 7));
    return false;
}

bool RecordingRule::validate(QString *error, const epg::Guide *guide, qint64 now) const
{
    const QString who = id ? QStringLiteral("rule %1").arg(id) : QStringLiteral("rule");
    auto fail = [&](const QString &why) {
        if (error)
            *error = who + u": " + why;
        return false;
    };
    switch (kind) {
    case RuleKind::Single:
        if (channelId.isEmpty())
            return fail(QStringLiteral("channel: empty (a single recording names its channel)"));
        if (start <= 0)
            return fail(QStringLiteral("start: missing (a single recording names its airing's start)"));
        break;
    case RuleKind::SeriesId:
        if (normaliseSeriesId(seriesId).isEmpty())
            return fail(QStringLiteral("seriesId: empty"));
        break;
    case RuleKind::Title:
        if (title.trimmed().isEmpty())
            return fail(QStringLiteral("title: empty"));
        break;
    case RuleKind::Regex: {
        if (pattern.isEmpty())
            return fail(QStringLiteral("pattern: empty"));
        if (pattern.size() > MaxPatternLength)
            return fail(QStringLiteral("pattern: longer than %1 characters (%2)").arg(MaxPatternLength).arg(pattern.size()));
        const QRegularExpression re(pattern, QRegularExpression::CaseInsensitiveOption);
        if (!re.isValid())
            return fail(QStringLiteral("pattern: invalid regular expression at position %1: %2 (in \"%3\")")
                            .arg(re.patternErrorOffset())
                            .arg(re.errorString(), pattern));
        if (const auto title = costlyTitleRemembered(pattern))
            return fail(QStringLiteral("pattern too costly: \"%1\" takes more than %2 matching steps on the title \"%3\" "
                                       "(nested repetition such as (\\w+\\s?)+ backtracks exponentially; every regex rule is "
                                       "matched against every title of the guide): simplify it")
                            .arg(pattern)
                            .arg(CostMatchLimit)
                            .arg(QString(*title).replace(QChar(1), u"\\x01"_qs)));
        break;
    }
    }
    if (prePadding < 0 || postPadding < 0)
        return fail(QStringLiteral("padding: negative (pre %1 s, post %2 s)").arg(prePadding).arg(postPadding));
    if (prePadding > 6 * 3600 || postPadding > 6 * 3600)
        return fail(QStringLiteral("padding: more than 6 hours (pre %1 s, post %2 s)").arg(prePadding).arg(postPadding));
    if (keep < 0)
        return fail(QStringLiteral("keep: negative (%1)").arg(keep));
    // A few tiers are all an operator orders by (0 is every box's rule): a range keeps a typo or
    // a client's sentinel (-1, INT_MAX) from becoming a tier below or above every other.
    if (operatorPriority < 0 || operatorPriority > MaxOperatorPriority)
        return fail(QStringLiteral("operatorPriority: %1 is outside 0-%2 (the operator's tier, 0 by default)")
                        .arg(operatorPriority)
                        .arg(MaxOperatorPriority));
    // Every kind: a single rule has no use for a window, but one stored with it is read and its
    // zone made like any other (an id that is a path opens that file).
    if (!window.timeZone.isEmpty() && !isKnownTimeZoneId(window.timeZone))
        return fail(QStringLiteral("window.timeZone: unknown time zone \"%1\" (an IANA id such as Europe/Berlin)").arg(window.timeZone));
    if (isSeries()) {
        if ((window.days & 0x7f) == 0)
            return fail(QStringLiteral("window.days: no day selected"));
        if (window.fromMinute < 0 || window.fromMinute >= 1440 || window.toMinute < 0 || window.toMinute >= 1440)
            return fail(QStringLiteral("window: minutes of the day must be 0-1439 (from %1, to %2)")
                            .arg(window.fromMinute)
                            .arg(window.toMinute));
        if (duplicateScope != DuplicateScope::None && (duplicateMethod & DuplicateAllLayers) == 0)
            return fail(QStringLiteral("duplicateMethod: no layer selected while duplicates are checked"));
    }
    if (!guide)
        return true;
    int channel = -1;
    if (!channelId.isEmpty()) {
        channel = guide->channelIndex(channelId);
        if (channel < 0)
            return fail(QStringLiteral("channel: unknown channel \"%1\" (not in the guide)").arg(channelId));
    }
    if (kind == RuleKind::Single) {
        const epg::Airing a = guide->airingAt(channel, start);
        if (!a.isValid() || a.start != start)
            return fail(QStringLiteral("start: no airing starts at %1 on \"%2\"").arg(utcText(start), channelId));
        if (a.stop <= now)
            return fail(QStringLiteral("start: the airing at %1 on \"%2\" ended at %3, in the past")
                            .arg(utcText(start), channelId, utcText(a.stop)));
    }
    return true;
}

QJsonObject RecordingRule::toJson() const
{
    QJsonObject o;
    if (id)
        o[u"id"] = id;
    o[u"kind"] = ruleKindName(kind);
    if (!owner.isEmpty())
        o[u"owner"] = owner;
    o[u"enabled"] = enabled;
    if (created)
        o[u"created"] = created;
    if (!channelId.isEmpty())
        o[u"channel"] = channelId;
    if (start)
        o[u"start"] = start;
    if (!seriesId.isEmpty())
        o[u"seriesId"] = seriesId;
    if (!title.isEmpty())
        o[u"title"] = title;
    if (!pattern.isEmpty())
        o[u"pattern"] = pattern;
    if (!window.isUnrestricted() || !window.timeZone.isEmpty()) {
        QJsonArray days;
        for (int d = 0; d < 7; ++d)
            if (window.days & (1 << d))
                days.append(d + 1);
        o[u"window"] = QJsonObject{{u"days"_qs, days},
                                   {u"from"_qs, window.fromMinute},
                                   {u"to"_qs, window.toMinute},
                                   {u"timeZone"_qs, window.timeZone}};
    }
    o[u"newOnly"] = newOnly;
    o[u"keep"] = keep;
    o[u"keepPolicy"] = keepPolicy == KeepPolicy::StopWhenFull ? u"stop"_qs : u"replace-oldest"_qs;
    o[u"prePadding"] = prePadding;
    o[u"postPadding"] = postPadding;
    o[u"priority"] = priority;
    if (operatorPriority != 0)
        o[u"operatorPriority"] = operatorPriority;
    o[u"duplicateScope"] = duplicateScopeName(duplicateScope);
    QJsonArray methods;
    const char *const names[] = {"ids", "episode", "subtitle", "description"};
    for (int i = 0; i < 4; ++i)
        if (duplicateMethod & (1 << i))
            methods.append(QString::fromLatin1(names[i]));
    o[u"duplicateMethod"] = methods;
    return o;
}

std::optional<RecordingRule> RecordingRule::fromJson(const QJsonObject &o, QString *error)
{
    RecordingRule r;
    QString why;
    auto wrong = [&](const QString &key, const char *expected) {
        why = QStringLiteral("rule JSON: \"%1\" must be %2").arg(key, QLatin1StringView(expected));
    };
    // A whole number that fits the field: 4294967396 s of padding is refused, not cut to 100 s.
    auto integerIn = [&](const QJsonObject &from, const QString &key, const QString &name, auto *out) {
        using T = std::remove_pointer_t<decltype(out)>;
        const QJsonValue v = from.value(key);
        if (v.isUndefined())
            return true;
        if (!v.isDouble()) {
            wrong(name, "an integer");
            return false;
        }
        const double d = v.toDouble();
        // max() + 1.0 is a power of two, exact as a double where max() itself is not (qint64).
        if (!std::isfinite(d) || d != std::trunc(d) || d < double(std::numeric_limits<T>::min())
            || d >= double(std::numeric_limits<T>::max()) + 1.0) {
            why = QStringLiteral("rule JSON: \"%1\" must be an integer from %2 to %3 (got %4)")
                      .arg(name)
                      .arg(std::numeric_limits<T>::min())
                      .arg(std::numeric_limits<T>::max())
                      .arg(QString::number(d, 'g', 17));
            return false;
        }
        *out = T(d);
        return true;
    };
    auto integer = [&](const QString &key, auto *out) { return integerIn(o, key, key, out); };
    auto string = [&](const QString &key, QString *out) {
        const QJsonValue v = o.value(key);
        if (v.isUndefined())
            return true;
        if (!v.isString()) {
            wrong(key, "a string");
            return false;
        }
        *out = v.toString();
        return true;
    };
    auto boolean = [&](const QString &key, bool *out) {
        const QJsonValue v = o.value(key);
        if (v.isUndefined())
            return true;
        if (!v.isBool()) {
            wrong(key, "true or false");
            return false;
        }
        *out = v.toBool();
        return true;
    };
    auto done = [&]() -> std::optional<RecordingRule> {
        if (error)
            *error = why;
        return std::nullopt;
    };

    const QJsonValue kind = o.value(u"kind");
    const auto k = ruleKindFromName(kind.toString());
    if (!kind.isString() || !k) {
        why = QStringLiteral("rule JSON: \"kind\" must be one of single, series-id, title, regex");
        return done();
    }
    r.kind = *k;
    QString scope = duplicateScopeName(r.duplicateScope), keepPolicy = u"stop"_qs;
    if (!integer(u"id"_qs, &r.id) || !string(u"owner"_qs, &r.owner) || !boolean(u"enabled"_qs, &r.enabled)
        || !integer(u"created"_qs, &r.created) || !string(u"channel"_qs, &r.channelId) || !integer(u"start"_qs, &r.start)
        || !string(u"seriesId"_qs, &r.seriesId) || !string(u"title"_qs, &r.title) || !string(u"pattern"_qs, &r.pattern)
        || !boolean(u"newOnly"_qs, &r.newOnly) || !integer(u"keep"_qs, &r.keep) || !string(u"keepPolicy"_qs, &keepPolicy)
        || !integer(u"prePadding"_qs, &r.prePadding) || !integer(u"postPadding"_qs, &r.postPadding)
        || !integer(u"priority"_qs, &r.priority) || !integer(u"operatorPriority"_qs, &r.operatorPriority)
        || !string(u"duplicateScope"_qs, &scope))
        return done();
    if (keepPolicy == u"stop")
        r.keepPolicy = KeepPolicy::StopWhenFull;
    else if (keepPolicy == u"replace-oldest")
        r.keepPolicy = KeepPolicy::ReplaceOldest;
    else {
        wrong(u"keepPolicy"_qs, "\"stop\" or \"replace-oldest\"");
        return done();
    }
    const auto s = duplicateScopeFromName(scope);
    if (!s) {
        wrong(u"duplicateScope"_qs, "one of none, rule, all");
        return done();
    }
    r.duplicateScope = *s;
    if (o.contains(u"duplicateMethod")) {
        const QJsonValue v = o.value(u"duplicateMethod");
        if (!v.isArray()) {
            wrong(u"duplicateMethod"_qs, "an array of ids, episode, subtitle, description");
            return done();
        }
        r.duplicateMethod = 0;
        const char *const names[] = {"ids", "episode", "subtitle", "description"};
        for (const QJsonValue &m : v.toArray()) {
            int bit = -1;
            for (int i = 0; i < 4; ++i)
                if (m.toString() == QLatin1StringView(names[i]))
                    bit = i;
            if (bit < 0) {
                wrong(u"duplicateMethod"_qs, "an array of ids, episode, subtitle, description");
                return done();
            }
            r.duplicateMethod |= quint8(1 << bit);
        }
    }
    if (o.contains(u"window")) {
        const QJsonValue v = o.value(u"window");
        if (!v.isObject()) {
            wrong(u"window"_qs, "an object {days, from, to, timeZone}");
            return done();
        }
        const QJsonObject w = v.toObject();
        if (w.contains(u"days")) {
            if (!w.value(u"days").isArray()) {
                wrong(u"window.days"_qs, "an array of 1 (Monday) to 7 (Sunday)");
                return done();
            }
            r.window.days = 0;
            for (const QJsonValue &d : w.value(u"days").toArray()) {
                const int day = d.toInt(0);
                if (day < 1 || day > 7) {
                    wrong(u"window.days"_qs, "an array of 1 (Monday) to 7 (Sunday)");
                    return done();
                }
                r.window.days |= quint8(1 << (day - 1));
            }
        }
        // 1200.5 was read as 0 (the whole day): a minute of the day is a whole number.
        for (auto [key, out] : {std::pair{u"from"_qs, &r.window.fromMinute}, std::pair{u"to"_qs, &r.window.toMinute}}) {
            if (!integerIn(w, key, u"window."_qs + key, out))
                return done();
        }
        const QJsonValue tz = w.value(u"timeZone");
        if (!tz.isUndefined() && !tz.isString()) {
            wrong(u"window.timeZone"_qs, "an IANA time zone id");
            return done();
        }
        r.window.timeZone = tz.toString();
    }
    return r;
}

} // namespace iptv::dvr
