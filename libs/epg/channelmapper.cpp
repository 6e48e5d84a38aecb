#include "channelmapper.h"

#include <QCryptographicHash>
#include <QHash>
#include <QLoggingCategory>
#include <QMap>
#include <QSet>

#include <algorithm>
#include <array>
#include <limits>

Q_LOGGING_CATEGORY(lcChannelMap, "iptv.epg.mapping", QtInfoMsg)

using namespace Qt::StringLiterals;

namespace iptv::epg {

namespace {

struct Token
{
    QString text;
    bool bracketed = false; // inside (), [] or {}
    bool afterDot = false;  // directly after a '.', as in "bbcone.uk"
};

bool isQualityTag(QStringView t)
{
    static constexpr std::array tags = {
        u"hd", u"fhd", u"uhd", u"4k", u"8k", u"sd", u"hq", u"hevc", u"h264", u"h265",
        u"720p", u"1080i", u"1080p", u"2160p", u"50fps", u"60fps",
    };
    return std::any_of(tags.begin(), tags.end(), [t](const char16_t *tag) { return t == QStringView(tag); });
}

bool isTwoAsciiLetters(QStringView t)
{
    return t.size() == 2 && t[0].unicode() < 128 && t[1].unicode() < 128 && t[0].isLetter() && t[1].isLetter();
}

bool isDigits(QStringView t)
{
    return !t.isEmpty() && std::all_of(t.begin(), t.end(), [](QChar c) { return c.isDigit(); });
}

/// "UK: BBC One", "UK | BBC One", "UK - BBC One" -> "BBC One". Only two ASCII letters, so names
/// like "E4: ..." or "BBC: ..." are left alone.
QStringView stripCountryPrefix(QStringView s)
{
    s = s.trimmed();
    if (s.size() < 4 || !isTwoAsciiLetters(s.left(2)))
        return s;
    qsizetype i = 2;
    bool spaceBefore = false;
    while (i < s.size() && s[i].isSpace()) {
        ++i;
        spaceBefore = true;
    }
    if (i >= s.size())
        return s;
    const QChar sep = s[i];
    const bool ok = sep == u':' || sep == u'|'
                    || (sep == u'-' && (spaceBefore || (i + 1 < s.size() && s[i + 1].isSpace())));
    if (!ok)
        return s;
    const QStringView rest = s.mid(i + 1).trimmed();
    return rest.isEmpty() ? s : rest;
}

/// Letters that NFKD does not split into a base letter and an accent.
QStringView foldSpecialLetter(QChar c)
{
    switch (c.unicode()) {
    case u'ø': return u"o";
    case u'Ø': return u"o";
    case u'đ': case u'Đ': case u'ð': case u'Ð': return u"d";
    case u'ł': case u'Ł': return u"l";
    case u'æ': case u'Æ': return u"ae";
    case u'œ': case u'Œ': return u"oe";
    case u'þ': case u'Þ': return u"th";
    case u'ı': return u"i";
    case u'ß': case u'ẞ': return u"ss"; // QString case folding is the simple one, which keeps ß
    default: return {};
    }
}

QList<Token> tokenise(QStringView name)
{
    // Most names are ASCII, where decomposition changes nothing; it is the expensive step.
    const bool ascii = std::all_of(name.begin(), name.end(), [](QChar c) { return c.unicode() < 0x80; });
    const QString decomposed = ascii ? name.toString() : name.toString().normalized(QString::NormalizationForm_KD);
    QString folded;
    folded.reserve(decomposed.size());
    for (QChar c : decomposed) {
        const auto cat = c.category();
        if (cat == QChar::Mark_NonSpacing || cat == QChar::Mark_SpacingCombining || cat == QChar::Mark_Enclosing)
            continue;
        const QStringView special = foldSpecialLetter(c);
        if (!special.isEmpty())
            folded += special;
        else
            folded += c;
    }
    folded = folded.toCaseFolded();

    QList<Token> tokens;
    Token current;
    int depth = 0;
    QChar previous;
    auto flush = [&] {
        if (!current.text.isEmpty())
            tokens.append(std::move(current));
        current = Token();
    };
    for (QChar c : std::as_const(folded)) {
        if (c.isLetterOrNumber()) {
            if (current.text.isEmpty()) {
                current.bracketed = depth > 0;
                current.afterDot = previous == u'.';
            }
            current.text += c;
        } else {
            flush();
            if (c == u'+') {
                tokens.append({u"+"_s, depth > 0, false});
            } else if (c == u'&') {
                tokens.append({u"and"_s, depth > 0, false});
            } else if (c == u'(' || c == u'[' || c == u'{') {
                ++depth;
            } else if ((c == u')' || c == u']' || c == u'}') && depth > 0) {
                --depth;
            }
        }
        previous = c;
    }
    flush();
    return tokens;
}

/// Removes quality tags and suffixed country codes from the end; never empties the list.
void stripTags(QList<Token> &tokens)
{
    while (tokens.size() > 1) {
        const Token &last = tokens.constLast();
        if (isQualityTag(last.text) || ((last.bracketed || last.afterDot) && isTwoAsciiLetters(last.text)))
            tokens.removeLast();
        else
            break;
    }
}

/// A name is matchable when it says more than a number: XMLTV display-names like "2" are channel
/// numbers, and matching them would map any entry called "2" to that channel.
bool isMatchable(const QString &key)
{
    return !key.isEmpty() && !isDigits(key);
}

struct GuideIndex
{
    QHash<QString, qsizetype> byId;
    QHash<QString, qsizetype> byFoldedId;
    QHash<QString, qsizetype> byName;
    QHash<QString, qsizetype> byIdName;
    QSet<QString> ambiguousNames;

    explicit GuideIndex(const QList<Channel> &guide)
    {
        for (qsizetype i = 0; i < guide.size(); ++i) {
            const Channel &c = guide[i];
            const QString folded = c.id.toCaseFolded();
            if (!byFoldedId.contains(folded))
                byFoldedId.insert(folded, i);
            for (const LangText &name : c.displayNames) {
                const QString key = ChannelMapper::normaliseName(name.text);
                if (!isMatchable(key))
                    continue;
                const auto it = byName.constFind(key);
                if (it == byName.cend())
                    byName.insert(key, i);
                else if (it.value() != i)
                    ambiguousNames.insert(key);
            }
            const QString idKey = ChannelMapper::normaliseName(c.id);
            if (isMatchable(idKey) && !byIdName.contains(idKey))
                byIdName.insert(idKey, i);
        }
        // Duplicate ids in a guide: the first one wins, as for names.
        for (qsizetype i = guide.size() - 1; i >= 0; --i)
            byId.insert(guide[i].id, i);
    }

    qsizetype findName(const QString &key) const
    {
        if (!isMatchable(key))
            return -1;
        if (const auto it = byName.constFind(key); it != byName.cend())
            return it.value();
        if (const auto it = byIdName.constFind(key); it != byIdName.cend())
            return it.value();
        return -1;
    }
};

QString entryDisplayName(const M3uEntry &e)
{
    if (!e.name.isEmpty())
        return e.name;
    if (!e.tvgName.isEmpty())
        return e.tvgName;
    return e.url;
}

QString unmappedBaseId(const M3uEntry &e)
{
    if (!e.tvgId.isEmpty())
        return e.tvgId;
    for (const QString &name : {e.name, e.tvgName}) {
        const QString key = ChannelMapper::normaliseName(name);
        if (!key.isEmpty())
            return key + u".lineup";
    }
    const QByteArray hash = QCryptographicHash::hash(e.url.toUtf8(), QCryptographicHash::Sha1).toHex().left(12);
    return QString::fromLatin1(hash) + u".lineup";
}

QString linesText(const QList<qint64> &lines)
{
    QStringList parts;
    parts.reserve(lines.size());
    for (qint64 l : lines)
        parts.append(QString::number(l));
    return parts.join(u", ");
}

} // namespace

QString ChannelMapper::normaliseName(QStringView name)
{
    QList<Token> tokens = tokenise(stripCountryPrefix(name));

    // A timeshift suffix ("+1", "+24", "+1h") is part of the channel's identity, and tags stand on
    // either side of it ("ITV +1 HD", "ITV HD +1"): strip the tags after it, peel it off, strip the
    // tags before it, put it back.
    stripTags(tokens);
    QList<Token> timeshift;
    if (tokens.size() >= 3 && tokens[tokens.size() - 2].text == u"+"
        && tokens.constLast().text.front().isDigit()) {
        timeshift = tokens.mid(tokens.size() - 2);
        tokens.resize(tokens.size() - 2);
    }
    stripTags(tokens);
    tokens += timeshift;

    QString key;
    for (const Token &t : std::as_const(tokens))
        key += t.text;
    return key;
}

ChannelMapping ChannelMapper::map(const Lineup &lineup, const QList<Channel> &guideChannels)
{
    const GuideIndex index(guideChannels);
    ChannelMapping out;
    out.matches.reserve(lineup.entries.size());
    out.channels.reserve(lineup.entries.size());

    int highest = 0;
    for (const M3uEntry &e : lineup.entries)
        highest = std::max(highest, e.channelNumber);
    // M3uReader caps numbers far below INT_MAX, but a hand-built Lineup may not be capped.
    int nextFree = highest < std::numeric_limits<int>::max() ? highest + 1 : highest;

    QSet<QString> usedIds;      // every guide id, and every id given out
    QSet<QString> boxChannelIds; // ids given to entries so far
    for (const Channel &c : guideChannels)
        usedIds.insert(c.id);

    for (qsizetype i = 0; i < lineup.entries.size(); ++i) {
        const M3uEntry &e = lineup.entries[i];
        ChannelMatch m;
        m.lineupIndex = i;
        m.line = e.line;

        qsizetype g = -1;
        if (!e.tvgId.isEmpty()) {
            if (const auto it = index.byId.constFind(e.tvgId); it != index.byId.cend())
                g = it.value();
            else if (const auto f = index.byFoldedId.constFind(e.tvgId.toCaseFolded()); f != index.byFoldedId.cend())
                g = f.value();
            if (g >= 0)
                m.how = ChannelMatch::How::ById;
        }
        if (g < 0) {
            for (const QString &candidate : {e.tvgName, e.name, e.tvgId}) {
                const QString key = normaliseName(candidate);
                g = index.findName(key);
                if (g >= 0) {
                    m.how = ChannelMatch::How::ByName;
                    if (index.ambiguousNames.contains(key))
                        qCInfo(lcChannelMap) << "line" << e.line << "name" << candidate
                                             << "fits several guide channels; took" << guideChannels[g].id;
                    break;
                }
            }
        }

        Channel c;
        if (g >= 0) {
            const Channel &guide = guideChannels[g];
            m.guideChannelId = guide.id;
            c.id = guide.id;
            // A second entry for the same guide channel (HD and SD streams) is a channel of its
            // own on the box, with the same programmes: "<guide id>#2", "#3", ...
            for (int n = 2; boxChannelIds.contains(c.id); ++n)
                c.id = guide.id + u'#' + QString::number(n);
            c.displayNames = guide.displayNames;
            c.icons = guide.icons;
            c.urls = guide.urls;
            // The lineup's own name ("RTÉ One HD") tells an HD entry from the SD one and is
            // what the viewer may search for, so it stays as an extra name.
            const QString own = e.name.isEmpty() ? e.tvgName : e.name;
            const bool known = std::any_of(c.displayNames.cbegin(), c.displayNames.cend(),
                                           [&own](const LangText &t) { return t.text == own; });
            if (!own.isEmpty() && !known)
                c.displayNames.append({QString(), own});
        } else {
            QString id = unmappedBaseId(e);
            if (usedIds.contains(id)) {
                const QString base = id;
                for (int n = 2; usedIds.contains(id); ++n)
                    id = base + u'-' + QString::number(n);
            }
            c.id = id;
            c.displayNames.append({QString(), entryDisplayName(e)});
            if (!e.tvgName.isEmpty() && e.tvgName != c.displayNames.constFirst().text)
                c.displayNames.append({QString(), e.tvgName});
        }
        usedIds.insert(c.id);
        boxChannelIds.insert(c.id);
        if (c.icons.isEmpty() && !e.tvgLogo.isEmpty())
            c.icons.append({e.tvgLogo, 0, 0});
        c.number = e.channelNumber > 0 ? e.channelNumber : nextFree < std::numeric_limits<int>::max() ? nextFree++ : nextFree;
        c.group = e.groupTitle;
        c.streamUrl = e.url;

        out.matches.append(std::move(m));
        out.channels.append(std::move(c));
    }

    // By id, so a guide that repeats an id lists it once, and not at all when one copy is mapped.
    QSet<QString> listed;
    for (const ChannelMatch &m : std::as_const(out.matches))
        listed.insert(m.guideChannelId);
    for (const Channel &g : guideChannels) {
        if (!listed.contains(g.id)) {
            listed.insert(g.id);
            out.guideChannelsNotInLineup.append(g.id);
        }
    }
    qCDebug(lcChannelMap) << "mapped" << out.mappedCount() << "of" << lineup.entries.size() << "lineup entries;"
                          << out.guideChannelsNotInLineup.size() << "guide channels not in the lineup";
    return out;
}

qsizetype ChannelMapping::countBy(ChannelMatch::How how) const
{
    return std::count_if(matches.cbegin(), matches.cend(), [how](const ChannelMatch &m) { return m.how == how; });
}

qsizetype ChannelMapping::mappedCount() const
{
    return matches.size() - countBy(ChannelMatch::How::Unmapped);
}

QString ChannelMapping::report() const
{
    QString out = u"Channel mapping: %1 lineup entries, %2 mapped (%3 by id, %4 by name), %5 unmapped; "
                  u"%6 guide channels not in the lineup.\n"_s
                      .arg(matches.size())
                      .arg(mappedCount())
                      .arg(countBy(ChannelMatch::How::ById))
                      .arg(countBy(ChannelMatch::How::ByName))
                      .arg(countBy(ChannelMatch::How::Unmapped))
                      .arg(guideChannelsNotInLineup.size());

    const qsizetype unmapped = countBy(ChannelMatch::How::Unmapped);
    if (unmapped > 0) {
        out += u"Unmapped lineup entries (no guide data for them):\n"_s;
        for (qsizetype i = 0; i < matches.size(); ++i) {
            if (matches[i].how != ChannelMatch::How::Unmapped)
                continue;
            const Channel *c = i < channels.size() ? &channels[i] : nullptr;
            out += u"  line %1: \"%2\" -> id %3\n"_s.arg(matches[i].line)
                       .arg(c ? c->name() : QString(), c ? c->id : QString());
        }
    }

    // Ordered maps so the report reads the same every time.
    QMap<QString, QList<qint64>> byGuide;
    QMap<int, QList<qint64>> byNumber;
    for (qsizetype i = 0; i < matches.size(); ++i) {
        if (!matches[i].guideChannelId.isEmpty())
            byGuide[matches[i].guideChannelId].append(matches[i].line);
        if (i < channels.size() && channels[i].number > 0)
            byNumber[channels[i].number].append(matches[i].line);
    }
    QString dup;
    for (auto it = byGuide.cbegin(); it != byGuide.cend(); ++it) {
        if (it.value().size() > 1)
            dup += u"  %1: lines %2\n"_s.arg(it.key(), linesText(it.value()));
    }
    if (!dup.isEmpty())
        out += u"Guide channels mapped by several entries (allowed, e.g. HD and SD streams):\n"_s + dup;
    dup.clear();
    for (auto it = byNumber.cbegin(); it != byNumber.cend(); ++it) {
        if (it.value().size() > 1)
            dup += u"  %1: lines %2\n"_s.arg(it.key()).arg(linesText(it.value()));
    }
    if (!dup.isEmpty())
        out += u"Channel numbers given to several entries:\n"_s + dup;
    if (!guideChannelsNotInLineup.isEmpty())
        out += u"Guide channels not in the lineup:\n  "_s + guideChannelsNotInLineup.join(u", ") + u'\n';
    return out;
}

} // namespace iptv::epg
