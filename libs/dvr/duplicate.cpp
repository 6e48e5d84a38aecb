#include "duplicate.h"

#include <QRegularExpression>
#include <QVarLengthArray>

#include <sodium.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

namespace iptv::dvr {

namespace {

static_assert(std::endian::native == std::endian::little,
              "identity keys hash UTF-16LE text and little-endian numbers as they lie in memory");

/// The SipHash-2-4 key of every identity key (libsodium's crypto_shorthash): a constant, so a
/// key is the same in every process, on every CPU, forever (history rows keep them).
constexpr unsigned char kIdentityKey[crypto_shorthash_KEYBYTES] = {
    'i', 'p', 't', 'v', '.', 'd', 'v', 'r', '.', 'i', 'd', 'e', 'n', 't', '.', '1'};

/// SipHash-2-4 of `bytes` with kIdentityKey, read as a little-endian 64-bit number; 0 (which
/// means "no key") becomes 1.
quint64 fixedHash(const void *bytes, size_t size)
{
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, static_cast<const unsigned char *>(bytes), size, kIdentityKey);
    quint64 h;
    std::memcpy(&h, out, sizeof h);
    return h ? h : 1;
}

quint64 fixedHash(QStringView text)
{
    return fixedHash(text.utf16(), size_t(text.size()) * sizeof(char16_t));
}

/// The bytes a key is made of, gathered without allocating for usual sizes.
class KeyBytes
{
public:
    KeyBytes &add(QStringView text)
    {
        m_bytes.append(reinterpret_cast<const char *>(text.utf16()), text.size() * qsizetype(sizeof(char16_t)));
        return *this;
    }
    KeyBytes &add(quint64 v) { return addRaw(&v, sizeof v); }
    KeyBytes &add(qint32 v) { return addRaw(&v, sizeof v); }
    quint64 hash() const { return fixedHash(m_bytes.constData(), size_t(m_bytes.size())); }

private:
    KeyBytes &addRaw(const void *p, size_t n)
    {
        m_bytes.append(static_cast<const char *>(p), qsizetype(n));
        return *this;
    }
    QVarLengthArray<char, 1024> m_bytes;
};

} // namespace

QString normaliseText(QStringView text)
{
    // Runs for the title, sub-title and description of every matched programme: ASCII (most
    // guide text) is folded here directly; anything else takes QChar's Unicode tables.
    QString out(text.size(), Qt::Uninitialized);
    QChar *o = out.data();
    QChar *const begin = o;
    bool space = false, ascii = true;
    for (const QChar c : text) {
        const char16_t u = c.unicode();
        bool word;
        if (u < 0x80) {
            word = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9');
            if (!word && (u == 0x7f || (u < 0x20 && !(u >= 0x09 && u <= 0x0d))))
                continue; // control characters: dropped without a break, as below
        } else {
            ascii = false;
            word = c.isLetterOrNumber();
            if (!word && !c.isSpace() && !c.isPunct() && !c.isSymbol())
                continue; // controls, formats: dropped without a break
        }
        if (!word) {
            space = true;
            continue;
        }
        if (space && o != begin)
            *o++ = u' ';
        space = false;
        *o++ = (u >= 'A' && u <= 'Z') ? QChar(char16_t(u + 32)) : c;
    }
    out.truncate(o - begin);
    return ascii ? out : out.toCaseFolded();
}

QString foldTitle(QStringView title)
{
    return title.trimmed().toString().toCaseFolded();
}

quint64 titleKey(QStringView title)
{
    return KeyBytes().add(u"title:").add(foldTitle(title)).hash();
}

namespace {
/// The key of a normalised series id's UTF-8 bytes (not empty).
quint64 seriesHash(QByteArrayView id)
{
    char buffer[128];
    if (id.size() + 7 > qsizetype(sizeof buffer))
        return fixedHash(QByteArray("series:" + id.toByteArray()).constData(), size_t(id.size()) + 7);
    std::memcpy(buffer, "series:", 7);
    std::memcpy(buffer + 7, id.data(), size_t(id.size()));
    return fixedHash(buffer, size_t(id.size()) + 7);
}
} // namespace

quint64 seriesKey(QStringView seriesId)
{
    const QByteArray s = normaliseSeriesId(seriesId).toUtf8();
    if (s.isEmpty())
        return 0;
    return seriesHash(s);
}

quint64 seriesKeyUtf8(QByteArrayView id)
{
    // normaliseSeriesId() on bytes, without making a QString: this runs for every programme
    // with a programme id when a guide is indexed.
    char buffer[64];
    qsizetype n = 0;
    while (!id.isEmpty() && (id.front() == ' ' || id.front() == '\t'))
        id = id.sliced(1);
    while (!id.isEmpty() && (id.back() == ' ' || id.back() == '\t'))
        id.chop(1);
    if (id.size() >= qsizetype(sizeof buffer))
        return seriesKey(QString::fromUtf8(id));
    for (const char c : id)
        if (c != '.')
            buffer[n++] = c;
    QByteArrayView s(buffer, n);
    if (n >= 10 && (s.startsWith("EP") || s.startsWith("SH"))) {
        buffer[0] = 'S';
        buffer[1] = 'H';
        s = QByteArrayView(buffer, 10);
    }
    if (s.isEmpty())
        return 0;
    return seriesHash(s);
}

EpisodeNumber parseEpisodeNumber(QStringView system, QStringView value)
{
    EpisodeNumber n;
    if (system == u"xmltv_ns") {
        // "season.episode.part", each zero-based "n/total"; any part may be empty.
        const auto parts = value.split(u'.');
        auto number = [&](int i) {
            if (i >= parts.size())
                return -1;
            bool ok = false;
            const int v = parts[i].split(u'/').first().trimmed().toInt(&ok);
            return ok && v >= 0 ? v + 1 : -1;
        };
        n.season = number(0);
        n.episode = number(1);
        return n;
    }
    if (system.isEmpty() || system == u"onscreen" || system == u"SxxExx") {
        static const QRegularExpression se(QStringLiteral("s\\s*(\\d+)\\s*[,.]?\\s*e(?:p(?:isode)?)?\\s*(\\d+)"),
                                           QRegularExpression::CaseInsensitiveOption);
        static const QRegularExpression x(QStringLiteral("\\b(\\d+)x(\\d+)\\b"), QRegularExpression::CaseInsensitiveOption);
        QRegularExpressionMatch m = se.match(value);
        if (!m.hasMatch())
            m = x.match(value);
        if (m.hasMatch()) {
            n.season = m.capturedView(1).toInt();
            n.episode = m.capturedView(2).toInt();
        }
    }
    return n;
}

QString duplicateLayerName(DuplicateLayer layer)
{
    switch (layer) {
    case DuplicateLayer::None: return u"none"_qs;
    case DuplicateLayer::Ids: return u"programme id"_qs;
    case DuplicateLayer::EpisodeNumber: return u"episode number"_qs;
    case DuplicateLayer::SubTitle: return u"sub-title"_qs;
    case DuplicateLayer::Description: return u"description"_qs;
    }
    return {};
}

namespace {

using TextBuffer = QVarLengthArray<char16_t, 512>;

QStringView viewOf(const TextBuffer &b)
{
    return QStringView(b.constData(), b.size());
}

/// What normaliseText() does with an ASCII character: 0 = a break (one space between words),
/// 1 = dropped without a break (controls), else the character written (letters lower-cased).
constexpr std::array<char16_t, 128> s_asciiClass = [] {
    std::array<char16_t, 128> t{};
    for (char16_t u = 0; u < 128; ++u) {
        if ((u >= 'a' && u <= 'z') || (u >= '0' && u <= '9'))
            t[u] = u;
        else if (u >= 'A' && u <= 'Z')
            t[u] = char16_t(u + 32);
        else if (u == 0x7f || (u < 0x20 && !(u >= 0x09 && u <= 0x0d)))
            t[u] = 1;
    }
    return t;
}();

/// The code point of the valid UTF-8 sequence at p[0] (a lead byte >= 0x80), its length in *n;
/// -1 for anything QString::fromUtf8 would repair (overlong, surrogate, beyond U+10FFFF, cut).
char32_t decodeUtf8(const uchar *p, const uchar *end, int *n)
{
    const uchar b = p[0];
    char32_t cp;
    char32_t min;
    if (b >= 0xc2 && b <= 0xdf) {
        *n = 2, cp = b & 0x1f, min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
        *n = 3, cp = b & 0x0f, min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
        *n = 4, cp = b & 0x07, min = 0x10000;
    } else {
        return char32_t(-1);
    }
    if (end - p < *n)
        return char32_t(-1);
    for (int k = 1; k < *n; ++k) {
        if ((p[k] & 0xc0) != 0x80)
            return char32_t(-1);
        cp = (cp << 6) | (p[k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return char32_t(-1);
    return cp;
}

/// normaliseText() of UTF-8 bytes, appended to `out`, without making a QString: ASCII through a
/// table, other characters through the same QChar tables normaliseText() reads, folded one by
/// one (QString::toCaseFolded() folds each BMP character to one, independently of the others:
/// tst_dvrduplicate checks every one). Text that is not valid UTF-8 takes normaliseText() itself.
void appendNormalised(QByteArrayView text, TextBuffer &out)
{
    // Written through a pointer into room made once: at most one character per byte comes out
    // (a space only in place of one or more dropped bytes; a 2-4 byte sequence gives at most one).
    const qsizetype begin = out.size();
    out.resize(begin + text.size());
    char16_t *const first = out.data() + begin;
    char16_t *o = first;
    bool space = false;
    const uchar *p = reinterpret_cast<const uchar *>(text.data());
    const uchar *const end = p + text.size();
    while (p < end) {
        const uchar u = *p;
        char16_t c;
        if (u < 0x80) {
            ++p;
            c = s_asciiClass[u];
            if (c <= 1) {
                space |= c == 0; // controls are dropped without a break
                continue;
            }
            if (space && o != first)
                *o++ = u' ';
            space = false;
            *o++ = c;
            // The rest of an ASCII word, character by character without the cases above.
            while (p < end && *p < 0x80 && (c = s_asciiClass[*p]) > 1) {
                *o++ = c;
                ++p;
            }
            continue;
        } else {
            int n = 0;
            const char32_t cp = decodeUtf8(p, end, &n);
            if (cp == char32_t(-1)) {
                out.resize(begin);
                const QString slow = normaliseText(QString::fromUtf8(text));
                out.append(reinterpret_cast<const char16_t *>(slow.constData()), slow.size());
                return;
            }
            p += n;
            // Beyond the BMP: two surrogates in UTF-16, which normaliseText() drops without a break.
            if (cp > 0xffff)
                continue;
            if (!QChar::isLetterOrNumber(cp)) {
                if (QChar::isSpace(cp) || QChar::isPunct(cp) || QChar::isSymbol(cp))
                    space = true;
                continue; // controls, formats: dropped without a break
            }
            c = char16_t(QChar::toCaseFolded(cp));
        }
        if (space && o != first)
            *o++ = u' ';
        space = false;
        *o++ = c;
    }
    out.resize(begin + (o - first));
}

/// parseEpisodeNumber(u"xmltv_ns", value) for a value of ASCII digits, dots, slashes and spaces
/// only (what guides send), without making QStrings; false for anything else, which the caller
/// parses the general way.
bool parseXmltvNsAscii(QByteArrayView value, EpisodeNumber *n)
{
    for (const char c : value)
        if (!((c >= '0' && c <= '9') || c == '.' || c == '/' || c == ' '))
            return false;
    int numbers[2] = {-1, -1};
    qsizetype pos = 0;
    for (int i = 0; i < 2 && pos <= value.size(); ++i) {
        // The i-th of the parts split at dots, up to its first slash, without spaces around it.
        qsizetype end = value.indexOf('.', pos);
        if (end < 0)
            end = value.size();
        qsizetype a = pos, b = end;
        for (qsizetype k = a; k < b; ++k)
            if (value[k] == '/') {
                b = k;
                break;
            }
        while (a < b && value[a] == ' ')
            ++a;
        while (b > a && value[b - 1] == ' ')
            --b;
        if (b - a > 9) // might not fit an int: the general way decides
            return false;
        bool digits = a < b;
        int v = 0;
        for (qsizetype k = a; k < b && digits; ++k) {
            digits = value[k] >= '0' && value[k] <= '9';
            v = v * 10 + (value[k] - '0');
        }
        if (digits)
            numbers[i] = v + 1;
        pos = end + 1;
    }
    n->season = numbers[0];
    n->episode = numbers[1];
    return true;
}

/// What the episode numbers say, gathered by either front end below.
struct NumberFacts
{
    quint64 series = 0;
    /// A dd_progid with a non-zero episode part, trimmed, dots removed (the last one that has one).
    QVarLengthArray<char16_t, 32> programmeId;
    EpisodeNumber number;
};

/// A dd_progid value (trimmed, dots removed) into `facts`.
void takeProgrammeId(QStringView p, quint64 series, NumberFacts *facts)
{
    facts->series = series;
    // "SH01234567" + "0000" is the series' generic programme, not an episode: an id counts when
    // its episode part holds anything besides zeros (and the spaces around it).
    if (p.size() <= 10)
        return;
    const QStringView episodePart = p.mid(10).trimmed();
    if (std::any_of(episodePart.begin(), episodePart.end(), [](QChar c) { return c != u'0'; })) {
        facts->programmeId.clear();
        facts->programmeId.append(p.utf16(), p.size());
    }
}

EpisodeIdentity identityOf(QStringView t, QStringView sub, QStringView desc, const NumberFacts &facts)
{
    EpisodeIdentity id;
    // The keys (see duplicate.h); the sub-title's and description's start from the title's.
    id.title = fixedHash(t);
    id.series = facts.series;
    if (!facts.programmeId.isEmpty())
        id.ids = KeyBytes().add(u"id:").add(QStringView(facts.programmeId.constData(), facts.programmeId.size())).hash();
    else if (facts.series && facts.number.isValid())
        id.ids = KeyBytes().add(u"sxe:").add(facts.series).add(qint32(facts.number.season)).add(qint32(facts.number.episode)).hash();
    if (facts.number.isValid())
        id.episode = KeyBytes().add(u"ep:").add(t).add(qint32(facts.number.season)).add(qint32(facts.number.episode)).hash();
    if (!sub.isEmpty())
        id.subTitle = KeyBytes().add(id.title).add(u"\x1fsub:").add(sub).hash();
    if (!desc.isEmpty())
        id.description = KeyBytes().add(id.title).add(u"\x1f" u"desc:").add(desc).hash();
    return id;
}

} // namespace

EpisodeIdentity episodeIdentity(QStringView title, QStringView subTitle, QStringView description,
                                const QList<epg::EpisodeNum> &episodeNums)
{
    NumberFacts facts;
    for (const epg::EpisodeNum &e : episodeNums) {
        if (e.system == u"dd_progid") {
            QString p = e.value.trimmed();
            p.remove(u'.');
            const quint64 series = seriesKey(p);
            takeProgrammeId(p, series, &facts);
        } else if (!facts.number.isValid()) {
            const EpisodeNumber n = parseEpisodeNumber(e.system, e.value);
            if (n.isValid())
                facts.number = n;
        }
    }
    return identityOf(normaliseText(title), normaliseText(subTitle), normaliseText(description), facts);
}

EpisodeIdentity episodeIdentityUtf8(QByteArrayView title, QByteArrayView subTitle, QByteArrayView description,
                                    const std::pair<QByteArrayView, QByteArrayView> *episodeNums, qsizetype count)
{
    NumberFacts facts;
    for (qsizetype i = 0; i < count; ++i) {
        const auto &[system, value] = episodeNums[i];
        if (system == "dd_progid") {
            const bool printable = std::all_of(value.begin(), value.end(),
                                               [](char c) { return uchar(c) >= 0x20 && uchar(c) < 0x7f; });
            if (printable) {
                // The QString path below without QStrings: of printable ASCII, trimmed() takes
                // only spaces, and seriesKeyUtf8() trims spaces and tabs.
                QByteArrayView v = value;
                while (!v.isEmpty() && v.front() == ' ')
                    v = v.sliced(1);
                while (!v.isEmpty() && v.back() == ' ')
                    v.chop(1);
                QVarLengthArray<char16_t, 32> p;
                for (const char c : v)
                    if (c != '.')
                        p.append(char16_t(c));
                takeProgrammeId(QStringView(p.constData(), p.size()), seriesKeyUtf8(value), &facts);
            } else {
                QString p = QString::fromUtf8(value).trimmed();
                p.remove(u'.');
                takeProgrammeId(p, seriesKey(p), &facts);
            }
        } else if (!facts.number.isValid()) {
            EpisodeNumber n;
            if (system != "xmltv_ns" || !parseXmltvNsAscii(value, &n))
                n = parseEpisodeNumber(QString::fromUtf8(system), QString::fromUtf8(value));
            if (n.isValid())
                facts.number = n;
        }
    }
    TextBuffer t, sub, desc;
    appendNormalised(title, t);
    appendNormalised(subTitle, sub);
    appendNormalised(description, desc);
    return identityOf(viewOf(t), viewOf(sub), viewOf(desc), facts);
}

DuplicateLayer sameEpisode(const EpisodeIdentity &a, const EpisodeIdentity &b, quint8 methods)
{
    for (int i = 0; i < 4; ++i) {
        if (!(methods & (1 << i)))
            continue;
        const auto layer = DuplicateLayer(i + 1);
        const quint64 ka = a.key(layer), kb = b.key(layer);
        if (!ka || !kb)
            continue;
        return ka == kb ? layer : DuplicateLayer::None;
    }
    return DuplicateLayer::None;
}

int *DuplicateIndex::KeyTable::find(quint64 key)
{
    if (m_slots.empty())
        return nullptr;
    const size_t mask = m_slots.size() - 1;
    for (size_t i = slotOf(key);; i = (i + 1) & mask) {
        auto &slot = m_slots[i];
        if (slot.first == key)
            return &slot.second;
        if (!slot.first)
            return nullptr;
    }
}

int &DuplicateIndex::KeyTable::operator[](quint64 key)
{
    if ((m_used.size() + 1) * 2 > m_slots.size())
        grow(std::max<size_t>(16, m_slots.size() * 2));
    const size_t mask = m_slots.size() - 1;
    for (size_t i = slotOf(key);; i = (i + 1) & mask) {
        auto &slot = m_slots[i];
        if (slot.first == key)
            return slot.second;
        if (!slot.first) {
            slot = {key, -1};
            m_used.push_back(quint32(i));
            return slot.second;
        }
    }
}

void DuplicateIndex::KeyTable::reserve(int keys)
{
    size_t slots = 16;
    while (slots < size_t(std::max(keys, 0)) * 2)
        slots *= 2;
    if (slots > m_slots.size())
        grow(slots);
}

void DuplicateIndex::KeyTable::grow(size_t slots)
{
    std::vector<std::pair<quint64, int>> old(slots, {0, -1});
    old.swap(m_slots);
    m_shift = 64 - std::countr_zero(slots);
    m_used.clear();
    m_used.reserve(slots / 2);
    const size_t mask = slots - 1;
    for (const auto &[key, entry] : old) {
        if (!key)
            continue;
        size_t i = slotOf(key);
        while (m_slots[i].first)
            i = (i + 1) & mask;
        m_slots[i] = {key, entry};
        m_used.push_back(quint32(i));
    }
}

void DuplicateIndex::KeyTable::clear()
{
    for (const quint32 i : m_used)
        m_slots[i] = {0, -1};
    m_used.clear();
}

void DuplicateIndex::clear()
{
    m_entries.clear();
    for (auto &h : m_byKey)
        h.clear();
}

void DuplicateIndex::reserve(int entries)
{
    m_entries.reserve(size_t(std::max(entries, 0)));
    for (auto &h : m_byKey)
        h.reserve(entries);
}

int DuplicateIndex::add(const EpisodeIdentity &identity, qint64 owner, quint32 group)
{
    const int n = int(m_entries.size());
    Entry entry{identity, owner, group, true, {-1, -1, -1, -1}};
    for (int i = 0; i < 4; ++i) {
        if (const quint64 k = identity.key(DuplicateLayer(i + 1))) {
            int &last = m_byKey[i][groupKey(k, group)];
            entry.next[i] = last;
            last = n;
        }
    }
    m_entries.push_back(entry);
    return n;
}

void DuplicateIndex::remove(int entry)
{
    if (entry >= 0 && entry < int(m_entries.size()))
        m_entries[size_t(entry)].live = false;
}

DuplicateIndex::Match DuplicateIndex::find(const EpisodeIdentity &identity, quint8 methods, qint64 owner,
                                            quint32 group) const
{
    Match best;
    for (int i = 0; i < 4; ++i) {
        if (!(methods & (1 << i)))
            continue;
        const quint64 k = identity.key(DuplicateLayer(i + 1));
        if (!k)
            continue;
        const int *last = m_byKey[i].find(groupKey(k, group));
        if (!last)
            continue;
        for (int e = *last; e >= 0; e = m_entries[size_t(e)].next[i]) {
            const Entry &entry = m_entries[size_t(e)];
            if (!entry.live || entry.group != group || (owner && entry.owner != owner) || (best && e >= best.entry))
                continue;
            const DuplicateLayer layer = sameEpisode(identity, entry.identity, methods);
            if (layer != DuplicateLayer::None)
                best = {e, layer};
        }
    }
    return best;
}

} // namespace iptv::dvr
