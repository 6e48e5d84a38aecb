#include "guidewriter.h"

#include "guideformat_p.h"
#include "channelmapper.h"
#include "guide.h"
#include "guiderecord_p.h"

#include <QDateTime>
#include <QHash>
#include <QSet>
#include <QLoggingCategory>
#include <QSaveFile>

#include <algorithm>
#include <limits>
#include <numeric>
#include <vector>

Q_LOGGING_CATEGORY(lcGuideCompile, "iptv.epg.compile")

namespace iptv::epg {

using namespace format;

namespace {

constexpr qint64 kMaxFilledDuration = 12 * 3600;

struct PendingAiring
{
    qint64 start;
    qint64 stop;
    quint32 channel;
    quint32 programme; // builder record id
    qint32 lengthHint;
    qint16 utcOffsetMinutes;
    quint8 flags;
    quint16 originSource; // index into Private::originSources
    quint32 sequence;  // arrival order, so the first of two equally good same-start airings wins
    quint32 originLine;   // where the programme was read, for the diagnostics that name it
};

QString timeText(qint64 t)
{
    return QDateTime::fromSecsSinceEpoch(t, Qt::UTC).toString(Qt::ISODate);
}

} // namespace

struct GuideBuilder::Private
{
    GuideCompileOptions options;
    GuideCompileStats stats;

    QHash<QString, quint32> stringIds;
    QList<QString> strings{QString()}; // id 0 is the empty string

    QHash<QByteArray, quint32> recordIds;
    QList<QByteArray> records;

    QList<Channel> channels;
    QHash<QString, quint32> channelIndex;
    QHash<QString, QList<quint32>> aliases; ///< guide channel id -> channels showing its programmes
    std::vector<PendingAiring> airings;
    QList<Diagnostic> warnings;
    QSet<QString> undeclared; ///< channel ids that programmes used without a declaration
    QStringList originSources;
    QHash<QString, quint16> originIndex;

    quint16 originSourceIndex(const QString &source)
    {
        if (const auto it = originIndex.constFind(source); it != originIndex.constEnd())
            return *it;
        if (originSources.size() >= 0xffff)
            return 0xffff; // more files than anyone compiles at once: named "?" in diagnostics
        const auto index = quint16(originSources.size());
        originSources.append(source);
        originIndex.insert(source, index);
        return index;
    }
    SourceOrigin originOf(const PendingAiring &a) const
    {
        return {a.originSource < originSources.size() ? originSources[a.originSource] : QStringLiteral("?"),
                qint64(a.originLine)};
    }
    /// Of two airings on one channel with the same start, the one with a real duration, then the
    /// one with a title, is the programme; the other is a placeholder (or a true duplicate).
    int rank(const PendingAiring &a) const
    {
        const QByteArray &record = records[a.programme];
        const bool titled = !record.isEmpty() && quint8(record.front()) == TagTitle;
        return (a.stop > a.start ? 2 : 0) + (titled ? 1 : 0);
    }

    quint32 intern(const QString &s)
    {
        if (s.isEmpty())
            return 0;
        auto it = stringIds.constFind(s);
        if (it != stringIds.constEnd())
            return *it;
        const quint32 id = quint32(strings.size());
        strings.append(s);
        stringIds.insert(s, id);
        return id;
    }

    void putString(QByteArray &out, const QString &s) { putVarint(out, intern(s)); }
    void putLangTexts(QByteArray &out, Tag tag, const QList<LangText> &list)
    {
        for (const LangText &t : list) {
            out.append(char(tag));
            putString(out, t.lang);
            putString(out, t.text);
        }
    }
    void putLangText(QByteArray &out, Tag tag, const LangText &t)
    {
        if (t.text.isEmpty() && t.lang.isEmpty())
            return;
        out.append(char(tag));
        putString(out, t.lang);
        putString(out, t.text);
    }
    void putIcons(QByteArray &out, const QList<Icon> &icons)
    {
        putVarint(out, quint64(icons.size()));
        for (const Icon &i : icons) {
            putString(out, i.src);
            putVarint(out, quint64(qMax(0, i.width)));
            putVarint(out, quint64(qMax(0, i.height)));
        }
    }
    void putRatings(QByteArray &out, Tag tag, const QList<Rating> &list)
    {
        for (const Rating &r : list) {
            out.append(char(tag));
            putString(out, r.system);
            putString(out, r.value);
            putIcons(out, r.icons);
        }
    }

    QByteArray encodeProgramme(const Programme &p)
    {
        QByteArray out;
        out.reserve(64);
        putLangTexts(out, TagTitle, p.titles);
        putLangTexts(out, TagSubTitle, p.subTitles);
        putLangTexts(out, TagDesc, p.descs);
        for (const Credit &c : p.credits) {
            out.append(char(TagCredit));
            putVarint(out, quint64(c.role));
            putString(out, c.name);
            putString(out, c.character);
            putVarint(out, c.guest ? 1 : 0);
        }
        if (!p.date.isEmpty()) {
            out.append(char(TagDate));
            putString(out, p.date);
        }
        putLangTexts(out, TagCategory, p.categories);
        putLangTexts(out, TagKeyword, p.keywords);
        putLangText(out, TagLanguage, p.language);
        putLangText(out, TagOrigLanguage, p.origLanguage);
        if (p.lengthSeconds > 0) {
            out.append(char(TagLength));
            putVarint(out, quint64(p.lengthSeconds));
        }
        for (const Icon &i : p.icons) {
            out.append(char(TagIcon));
            putString(out, i.src);
            putVarint(out, quint64(qMax(0, i.width)));
            putVarint(out, quint64(qMax(0, i.height)));
        }
        for (const QString &u : p.urls) {
            out.append(char(TagUrl));
            putString(out, u);
        }
        putLangTexts(out, TagCountry, p.countries);
        for (const EpisodeNum &e : p.episodeNums) {
            out.append(char(TagEpisodeNum));
            putString(out, e.system);
            putString(out, e.value);
        }
        if (p.video.isSet()) {
            out.append(char(TagVideo));
            putVarint(out, quint64(p.video.hasPresent) | quint64(p.video.present) << 1
                               | quint64(p.video.hasColour) << 2 | quint64(p.video.colour) << 3);
            putString(out, p.video.aspect);
            putString(out, p.video.quality);
        }
        if (p.audio.isSet()) {
            out.append(char(TagAudio));
            putVarint(out, quint64(p.audio.hasPresent) | quint64(p.audio.present) << 1);
            putString(out, p.audio.stereo);
        }
        for (const Subtitles &s : p.subtitles) {
            out.append(char(TagSubtitles));
            putString(out, s.type);
            putString(out, s.lang);
        }
        putRatings(out, TagRating, p.ratings);
        putRatings(out, TagStarRating, p.starRatings);
        putLangTexts(out, TagReview, p.reviews);
        if (!p.airing.previouslyShownStart.isEmpty() || !p.airing.previouslyShownChannel.isEmpty()) {
            out.append(char(TagPreviouslyShown));
            putString(out, p.airing.previouslyShownStart);
            putString(out, p.airing.previouslyShownChannel);
        }
        putLangText(out, TagPremiereText, p.airing.premiereText);
        putLangText(out, TagLastChanceText, p.airing.lastChanceText);
        return out;
    }

    quint32 channelFor(const QString &id, bool create)
    {
        auto it = channelIndex.constFind(id);
        if (it != channelIndex.constEnd())
            return *it;
        if (!create)
            return quint32(-1);
        Channel c;
        c.id = id;
        channelIndex.insert(id, quint32(channels.size()));
        channels.append(c);
        return quint32(channels.size() - 1);
    }

    void warn(const QString &message, qint64 line = 0) { warnAt({options.generator, line}, message); }
    void warnAt(const SourceOrigin &where, const QString &message)
    {
        if (warnings.size() < 50)
            warnings.append({Diagnostic::Severity::Warning, where.source, where.line, 0, message});
    }
};

GuideBuilder::GuideBuilder(GuideCompileOptions options) : d(std::make_unique<Private>())
{
    d->options = std::move(options);
    if (d->options.days <= 0)
        d->options.days = 14;
}

GuideBuilder::~GuideBuilder() = default;

const GuideCompileStats &GuideBuilder::stats() const { return d->stats; }

void GuideBuilder::addChannel(const Channel &channel)
{
    if (channel.id.isEmpty())
        return;
    auto it = d->channelIndex.constFind(channel.id);
    if (it != d->channelIndex.constEnd()) {
        // Declared after its programmes arrived (or twice): keep the first full declaration.
        d->undeclared.remove(channel.id);
        Channel &existing = d->channels[*it];
        if (existing.displayNames.isEmpty() && existing.icons.isEmpty())
            existing = channel;
        return;
    }
    d->channelIndex.insert(channel.id, quint32(d->channels.size()));
    d->channels.append(channel);
}

void GuideBuilder::addChannelAlias(const Channel &channel, const QString &programmesOf)
{
    if (channel.id.isEmpty() || d->channelIndex.contains(channel.id))
        return;
    addChannel(channel);
    d->aliases[programmesOf].append(d->channelIndex.value(channel.id));
}

void GuideBuilder::addMappedChannels(const ChannelMapping &mapping)
{
    for (qsizetype i = 0; i < mapping.channels.size(); ++i) {
        const Channel &c = mapping.channels[i];
        const QString source = i < mapping.matches.size() ? mapping.matches[i].guideChannelId : QString();
        if (!source.isEmpty() && source != c.id)
            addChannelAlias(c, source);
        else
            addChannel(c);
    }
}

void GuideBuilder::addProgramme(const Programme &p)
{
    ++d->stats.programmesIn;
    // A channel made up for undeclared programmes stays undeclared for the count: every one of
    // its programmes is counted, not only the first.
    if (!d->channelIndex.contains(p.channelId) || d->undeclared.contains(p.channelId)) {
        ++d->stats.unknownChannel;
        if (!d->undeclared.contains(p.channelId)) {
            d->undeclared.insert(p.channelId);
            ++d->stats.undeclaredChannels;
        }
        if (!d->options.keepUndeclaredChannels || p.channelId.isEmpty())
            return;
    }
    const quint32 channel = d->channelFor(p.channelId, true);
    const QByteArray record = d->encodeProgramme(p);
    quint32 recordId;
    auto it = d->recordIds.constFind(record);
    if (it != d->recordIds.constEnd()) {
        recordId = *it;
    } else {
        recordId = quint32(d->records.size());
        d->records.append(record);
        d->recordIds.insert(record, recordId);
    }
    quint8 flags = 0;
    if (p.airing.isNew)
        flags |= FlagNew;
    if (p.airing.premiere)
        flags |= FlagPremiere;
    if (p.airing.previouslyShown)
        flags |= FlagPreviouslyShown;
    if (p.airing.lastChance)
        flags |= FlagLastChance;
    if (!p.subtitles.isEmpty())
        flags |= FlagHasSubtitles;
    const quint16 originSource = d->originSourceIndex(p.origin.source);
    const auto originLine = quint32(std::clamp<qint64>(p.origin.line, 0, std::numeric_limits<quint32>::max()));
    d->airings.push_back({p.start, p.stop, channel, recordId, p.lengthSeconds, qint16(p.startUtcOffset / 60), flags,
                          originSource, quint32(d->airings.size()), originLine});
    const auto alias = d->aliases.constFind(p.channelId);
    if (alias != d->aliases.constEnd()) {
        for (quint32 other : *alias)
            d->airings.push_back({p.start, p.stop, other, recordId, p.lengthSeconds, qint16(p.startUtcOffset / 60), flags,
                                  originSource, quint32(d->airings.size()), originLine});
    }
}

void GuideBuilder::addGuide(const GuideData &data)
{
    for (const Channel &c : data.channels)
        addChannel(c);
    for (const Programme &p : data.programmes)
        addProgramme(p);
}

namespace {

/// Appends a section to the body at an 8-byte boundary and records it in the directory.
class BodyAssembler
{
public:
    explicit BodyAssembler(int sectionCount)
    {
        m_directorySize = 8 + sectionCount * qsizetype(sizeof(SectionEntry));
        m_body = QByteArray(m_directorySize, '\0');
        putRawAt<quint32>(0, quint32(sectionCount));
    }
    void add(Section id, const QByteArray &bytes)
    {
        while (m_body.size() % 8)
            m_body.append('\0');
        const qsizetype entry = 8 + m_count * qsizetype(sizeof(SectionEntry));
        putRawAt<quint32>(entry, id);
        putRawAt<quint32>(entry + 4, 0);
        putRawAt<quint64>(entry + 8, quint64(m_body.size()));
        putRawAt<quint64>(entry + 16, quint64(bytes.size()));
        m_body.append(bytes);
        ++m_count;
    }
    QByteArray take() { return std::move(m_body); }

private:
    template<typename T>
    void putRawAt(qsizetype at, T v)
    {
        v = qToLittleEndian(v);
        std::memcpy(m_body.data() + at, &v, sizeof v);
    }
    QByteArray m_body;
    qsizetype m_directorySize;
    int m_count = 0;
};

template<typename T>
QByteArray rawArray(const std::vector<T> &v)
{
    QByteArray out;
    out.reserve(qsizetype(v.size() * sizeof(T)));
    for (T x : v)
        putRaw<T>(out, x);
    return out;
}

} // namespace

QByteArray GuideBuilder::finish(iptv::DiagnosticList *diagnostics)
{
    Private &p = *d;
    GuideCompileStats &st = p.stats;
    auto &airings = p.airings;

    // ---- the window ----
    qint64 from = p.options.from;
    if (from == 0) {
        from = std::numeric_limits<qint64>::max();
        for (const PendingAiring &a : airings)
            from = std::min(from, a.start);
        if (airings.empty())
            from = QDateTime::currentSecsSinceEpoch() / 86400 * 86400;
    }
    const qint64 until = from + qint64(p.options.days) * 86400;

    // ---- per channel: order, duplicates, missing stops, overlaps ----
    std::stable_sort(airings.begin(), airings.end(), [](const PendingAiring &a, const PendingAiring &b) {
        return a.channel != b.channel ? a.channel < b.channel : a.start < b.start;
    });
    std::vector<PendingAiring> kept;
    kept.reserve(airings.size());
    int overlapExamples = 0;
    int duplicateExamples = 0;
    for (size_t i = 0, n = 0; i < airings.size(); i = n) {
        // Airings on one channel with the same start: one of them is the programme.
        n = i + 1;
        while (n < airings.size() && airings[n].channel == airings[i].channel && airings[n].start == airings[i].start)
            ++n;
        size_t best = i;
        for (size_t j = i + 1; j < n; ++j) {
            if (p.rank(airings[j]) > p.rank(airings[best]))
                best = j;
        }
        PendingAiring a = airings[best];
        for (size_t j = i; j < n; ++j) {
            if (j == best)
                continue;
            ++st.duplicatesDropped;
            if (duplicateExamples++ < 10) {
                const PendingAiring &dropped = airings[j];
                const auto length = [](const PendingAiring &x) {
                    return x.stop > x.start ? QStringLiteral("until %1").arg(timeText(x.stop)) : QStringLiteral("no length");
                };
                p.warnAt(p.originOf(dropped),
                         QStringLiteral("channel %1: two programmes start at %2; kept the one read at %3 (%4), dropped "
                                        "the one read at %5 (%6)")
                             .arg(p.channels[a.channel].id, timeText(a.start), p.originOf(a).toString(), length(a),
                                  p.originOf(dropped).toString(), length(dropped)));
            }
        }
        // The next airing on the same channel with a later start bounds this one.
        const bool hasNext = n < airings.size() && airings[n].channel == a.channel;
        if (a.stop != 0 && a.stop <= a.start) {
            ++st.invalidTimes;
            a.stop = 0;
        }
        if (a.stop == 0) {
            ++st.missingStopFilled;
            // XMLTV's convention: a programme without a stop runs until the next one starts;
            // its <length>, or 12 hours, bounds that across gaps in the data, 1 hour at the end.
            const qint64 bound = a.start + (a.lengthHint > 0 ? a.lengthHint : (hasNext ? kMaxFilledDuration : 3600));
            a.stop = hasNext ? std::min(airings[n].start, bound) : bound;
        } else if (hasNext && a.stop > airings[n].start) {
            ++st.overlapsTrimmed;
            if (overlapExamples++ < 10)
                p.warn(QStringLiteral("channel %1: programme at %2 ends at %3, after the next one starts at %4; trimmed")
                           .arg(p.channels[a.channel].id, timeText(a.start), timeText(a.stop), timeText(airings[n].start)));
            a.stop = airings[n].start;
        }
        if (a.stop <= from || a.start >= until) {
            ++st.outsideWindow;
            continue;
        }
        kept.push_back(a);
    }
    airings.clear();
    airings.shrink_to_fit();

    // Intern every channel string and the generator first: the string map below is sized once.
    struct ChannelStrings { quint32 id, name, icon, group, stream; QByteArray raw; };
    std::vector<ChannelStrings> channelStrings;
    channelStrings.reserve(size_t(p.channels.size()));
    for (const Channel &ch : std::as_const(p.channels)) {
        ChannelStrings cs{p.intern(ch.id), p.intern(ch.name()), p.intern(ch.icons.isEmpty() ? QString() : ch.icons.first().src),
                          p.intern(ch.group), p.intern(ch.streamUrl), {}};
        for (const LangText &n : ch.displayNames) {
            cs.raw.append(char(TagDisplayName));
            p.putString(cs.raw, n.lang);
            p.putString(cs.raw, n.text);
        }
        for (const Icon &i : ch.icons) {
            cs.raw.append(char(TagChannelIcon));
            p.putString(cs.raw, i.src);
            putVarint(cs.raw, quint64(qMax(0, i.width)));
            putVarint(cs.raw, quint64(qMax(0, i.height)));
        }
        for (const QString &u : ch.urls) {
            cs.raw.append(char(TagChannelUrl));
            p.putString(cs.raw, u);
        }
        channelStrings.push_back(std::move(cs));
    }
    const quint32 generatorBuilderString = p.intern(p.options.generator);

    // ---- programme records: ordered by title, each title's records by first airing ----
    // Records of one series end up side by side, and so do the strings they introduce, which
    // is what lets the compressor find the long repeats between episodes. Within a title, the
    // order of first airing (channels in order, then start) makes a channel's next new episode
    // mostly the record after one it aired before: the AiringProgramme codes use that.
    std::vector<quint32> usedRecords;
    {
        std::vector<bool> used(size_t(p.records.size()), false);
        for (const PendingAiring &a : kept) {
            if (!used[a.programme]) {
                used[a.programme] = true;
                usedRecords.push_back(a.programme);
            }
        }
        struct Key { quint32 record; QString title; };
        std::vector<Key> keys;
        keys.reserve(usedRecords.size());
        for (quint32 r : usedRecords) {
            const QByteArray &rec = p.records[r];
            QString title;
            quint8 tag = 0;
            int field = 0;
            walkRecord(reinterpret_cast<const quint8 *>(rec.constData()), rec.size(), [&](quint8 t) { tag = t; field = 0; },
                       [&](char, quint64 v) {
                           if (field++ == 1 && tag == TagTitle && title.isNull())
                               title = p.strings[qsizetype(v)];
                       });
            keys.push_back({r, title});
        }
        std::stable_sort(keys.begin(), keys.end(), [](const Key &x, const Key &y) { return x.title < y.title; });
        for (size_t i = 0; i < keys.size(); ++i)
            usedRecords[i] = keys[i].record;
    }
    std::vector<quint32> recordMap(size_t(p.records.size()), quint32(-1));
    for (size_t i = 0; i < usedRecords.size(); ++i)
        recordMap[usedRecords[i]] = quint32(i);
    for (PendingAiring &a : kept)
        a.programme = recordMap[a.programme];

    // ---- strings, numbered by first use: channels, then records in order ----
    std::vector<quint32> stringMap(size_t(p.strings.size()), quint32(-1));
    std::vector<quint32> usedStrings{0};
    std::vector<quint8> stringGroups{GroupUnintroduced}; ///< per file string id
    stringMap[0] = 0;
    auto mapString = [&](quint32 s, bool *isNew = nullptr, StringGroup group = GroupUnintroduced) {
        quint32 &m = stringMap[s];
        if (isNew)
            *isNew = m == quint32(-1);
        if (m == quint32(-1)) {
            m = quint32(usedStrings.size());
            usedStrings.push_back(s);
            stringGroups.push_back(group);
        }
        return m;
    };

    const quint32 generatorString = mapString(generatorBuilderString);
    std::vector<ChannelRow> channelRows;
    QByteArray channelData, channelLengths;
    {
        // Airings are sorted by channel: find each channel's run.
        std::vector<quint32> first(size_t(p.channels.size()), 0), count(size_t(p.channels.size()), 0);
        for (size_t i = kept.size(); i-- > 0;) {
            first[kept[i].channel] = quint32(i);
            ++count[kept[i].channel];
        }
        QByteArray rec;
        for (qsizetype c = 0; c < p.channels.size(); ++c) {
            const Channel &ch = p.channels[c];
            const ChannelStrings &cs = channelStrings[size_t(c)];
            ChannelRow row{};
            row.idString = mapString(cs.id);
            row.nameString = mapString(cs.name);
            row.iconString = mapString(cs.icon);
            row.groupString = mapString(cs.group);
            row.streamString = mapString(cs.stream);
            row.number = quint32(qMax(0, ch.number));
            row.firstAiring = count[size_t(c)] ? first[size_t(c)] : quint32(kept.size());
            row.airingCount = count[size_t(c)];
            channelRows.push_back(row);
            rec.clear();
            walkRecord(reinterpret_cast<const quint8 *>(cs.raw.constData()), cs.raw.size(),
                       [&](quint8 tag) { rec.append(char(tag)); },
                       [&](char kind, quint64 v) { putVarint(rec, kind == 's' ? mapString(quint32(v)) : v); });
            channelData.append(rec);
            putVarint(channelLengths, quint64(rec.size()));
        }
    }
    QByteArray programmeData, programmeLengths;
    {
        QByteArray rec;
        for (quint32 r : usedRecords) {
            const QByteArray &in = p.records[r];
            rec.clear();
            quint64 newStrings = 0;
            quint8 tag = 0;
            int field = 0;
            walkRecord(reinterpret_cast<const quint8 *>(in.constData()), in.size(),
                       [&](quint8 t) {
                           rec.append(char(t));
                           tag = t;
                           field = 0;
                       },
                       [&](char kind, quint64 v) {
                           const int f = field++;
                           if (kind != 's') {
                               putVarint(rec, v);
                               return;
                           }
                           bool isNew = false;
                           const quint32 id = mapString(quint32(v), &isNew, stringGroup(tag, f));
                           putVarint(rec, isNew ? 0 : quint64(id) + 1);
                           newStrings += isNew;
                       });
            programmeData.append(rec);
            putVarint(programmeLengths, quint64(rec.size()));
            putVarint(programmeLengths, newStrings);
        }
    }

    // ---- strings: group by group, each in id order ----
    QByteArray stringData, stringLengths;
    for (quint8 group = 0; group < GroupCount; ++group) {
        for (size_t id = 0; id < usedStrings.size(); ++id) {
            if (stringGroups[id] != group)
                continue;
            const QByteArray utf8 = p.strings[qsizetype(usedStrings[id])].toUtf8();
            stringData.append(utf8);
            putVarint(stringLengths, quint64(utf8.size()));
        }
    }

    // ---- schedule columns ----
    std::vector<quint32> startCol(kept.size()), durationCol(kept.size());
    std::vector<quint8> flagCol(kept.size());
    std::vector<qint16> offsetCol(kept.size());
    QByteArray programmeCodes, newProgrammes;
    RecentProgrammes recent;
    for (size_t i = 0; i < kept.size(); ++i) {
        const PendingAiring &a = kept[i];
        const bool firstOfChannel = i == 0 || kept[i - 1].channel != a.channel;
        const bool lastOfChannel = i + 1 == kept.size() || kept[i + 1].channel != a.channel;
        startCol[i] = firstOfChannel ? quint32(qint32(a.start - from)) : quint32(a.start - kept[i - 1].start);
        // Schedules are mostly back to back: a gap to the next start is 0 where durations vary.
        durationCol[i] = lastOfChannel ? quint32(a.stop - a.start) : quint32(kept[i + 1].start - a.stop);
        flagCol[i] = a.flags;
        offsetCol[i] = a.utcOffsetMinutes;
        if (firstOfChannel)
            recent.clear();
        const qsizetype rank = recent.rankOf(a.programme);
        if (rank >= 0) {
            putVarint(programmeCodes, quint64(2 * rank + 1));
            recent.repeat(rank);
            continue;
        }
        const qsizetype before = a.programme > 0 ? recent.rankOf(a.programme - 1) : -1;
        if (before >= 0) {
            putVarint(programmeCodes, quint64(2 * before + 2));
        } else {
            putVarint(programmeCodes, 0);
            putVarint(newProgrammes, a.programme);
        }
        recent.add(a.programme);
    }

    BodyAssembler body(13);
    body.add(StringLengths, stringLengths);
    body.add(StringData, stringData);
    {
        QByteArray rows;
        for (const ChannelRow &r : channelRows)
            for (quint32 v : {r.idString, r.nameString, r.iconString, r.groupString, r.streamString, r.number,
                              r.firstAiring, r.airingCount})
                putRaw<quint32>(rows, v);
        body.add(Channels, rows);
    }
    body.add(ChannelLengths, channelLengths);
    body.add(ChannelData, channelData);
    body.add(AiringStart, rawArray(startCol));
    body.add(AiringDuration, rawArray(durationCol));
    body.add(AiringProgramme, programmeCodes);
    body.add(AiringNewProgramme, newProgrammes);
    body.add(AiringFlagBits, QByteArray(reinterpret_cast<const char *>(flagCol.data()), qsizetype(flagCol.size())));
    body.add(AiringUtcOffset, rawArray(offsetCol));
    body.add(ProgrammeLengths, programmeLengths);
    body.add(ProgrammeData, programmeData);
    const QByteArray bodyBytes = body.take();

    Header h;
    h.validFrom = from;
    h.validUntil = until;
    h.createdAt = p.options.createdAt ? p.options.createdAt : QDateTime::currentSecsSinceEpoch();
    h.channelCount = quint32(channelRows.size());
    h.airingCount = quint32(kept.size());
    h.programmeCount = quint32(usedRecords.size());
    h.stringCount = quint32(usedStrings.size());
    h.generatorString = generatorString;
    h.bodySize = quint64(bodyBytes.size());
    const QByteArray hash = bodyHash(bodyBytes);
    std::memcpy(h.bodyHash, hash.constData(), 32);
    QString reason;
    int level = p.options.compressionLevel;
    if (level <= 0) {
        // On this class of machine zstd compresses about 1 (19), 2 (16), 6 (14) and 19 (12) MB
        // of body per CPU second: the strongest level that keeps compression to a few seconds.
        // Two weeks of 1,000 channels (36 MB) take 3.3 s at 14 on two cores, 1.2 s at 12, for a
        // guide 4 % smaller.
        const qsizetype mb = bodyBytes.size() >> 20;
        level = mb < 4 ? 19 : mb < 8 ? 16 : mb < 64 ? 14 : 12;
    }
    const QByteArray stored = compressBody(bodyBytes, level, p.options.threads, &reason);
    if (stored.isEmpty()) {
        if (diagnostics)
            diagnostics->error(p.options.generator, 0, 0, QStringLiteral("compression failed: ") + reason);
        return {};
    }
    h.storedSize = quint64(stored.size());

    st.channels = qint64(channelRows.size());
    st.airings = qint64(kept.size());
    st.programmeRecords = qint64(usedRecords.size());
    st.strings = qint64(usedStrings.size());
    st.bodyBytes = bodyBytes.size();
    st.fileBytes = qint64(kHeaderSize) + stored.size();

    if (diagnostics) {
        for (const Diagnostic &w : std::as_const(p.warnings))
            diagnostics->add(w);
        if (st.overlapsTrimmed > 10)
            diagnostics->warning(p.options.generator, 0, 0,
                                 QStringLiteral("%1 overlapping programmes trimmed in all").arg(st.overlapsTrimmed));
        if (st.duplicatesDropped)
            diagnostics->warning(p.options.generator, 0, 0,
                                 QStringLiteral("%1 programmes dropped: same channel and start as another").arg(st.duplicatesDropped));
        if (st.unknownChannel)
            diagnostics->warning(p.options.generator, 0, 0,
                                 QStringLiteral("%1 programmes on %2 channels not declared in the guide (%3)")
                                     .arg(st.unknownChannel)
                                     .arg(st.undeclaredChannels)
                                     .arg(p.options.keepUndeclaredChannels ? QStringLiteral("kept") : QStringLiteral("dropped")));
        if (st.invalidTimes)
            diagnostics->warning(p.options.generator, 0, 0,
                                 QStringLiteral("%1 programmes stop before they start; stop replaced").arg(st.invalidTimes));
    }
    qCDebug(lcGuideCompile) << "compiled" << st.channels << "channels" << st.airings << "airings"
                            << st.programmeRecords << "programmes" << st.bodyBytes << "->" << st.fileBytes << "bytes";
    return encodeHeader(h) + stored;
}

bool GuideBuilder::finishToFile(const QString &path, QString *error, iptv::DiagnosticList *diagnostics)
{
    const QByteArray bytes = finish(diagnostics);
    if (bytes.isEmpty()) {
        if (error)
            *error = QStringLiteral("%1: guide could not be built").arg(path);
        return false;
    }
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly) || file.write(bytes) != bytes.size() || !file.commit()) {
        if (error)
            *error = QStringLiteral("%1: cannot write: %2").arg(path, file.errorString());
        return false;
    }
    return true;
}

} // namespace iptv::epg
