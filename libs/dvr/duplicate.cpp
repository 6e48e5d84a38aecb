#include "duplicate.h"

#include <QRegularExpression>

namespace iptv::dvr {

namespace {

quint64 hashOf(QStringView a, QStringView b = {}, int c = -1, int d = -1)
{
    // A fixed seed keeps keys stable across runs and processes (history is compared with them).
    size_t h = qHash(a, size_t(0x9e3779b97f4a7c15ULL));
    if (!b.isEmpty())
        h = qHash(b, h ^ 0x1f);
    if (c >= 0 || d >= 0)
        h = qHashMulti(h, c, d);
    return h ? quint64(h) : 1; // 0 means "no key"
}

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
    return hashOf(u"title:", foldTitle(title));
}

quint64 seriesKey(QStringView seriesId)
{
    const QByteArray s = normaliseSeriesId(seriesId).toUtf8();
    if (s.isEmpty())
        return 0;
    const size_t h = qHash(QByteArrayView(s), size_t(0x51ed270b27d1c0a5ULL));
    return h ? quint64(h) : 1;
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
    const size_t h = qHash(s, size_t(0x51ed270b27d1c0a5ULL));
    return h ? quint64(h) : 1;
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

quint64 EpisodeIdentity::key(DuplicateLayer layer) const
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

EpisodeIdentity episodeIdentity(QStringView title, QStringView subTitle, QStringView description,
                                const QList<epg::EpisodeNum> &episodeNums)
{
    EpisodeIdentity id;
    const QString t = normaliseText(title);
    id.title = hashOf(t);
    EpisodeNumber number;
    QString programmeId;
    quint64 series = 0;
    for (const epg::EpisodeNum &e : episodeNums) {
        if (e.system == u"dd_progid") {
            QString p = e.value.trimmed();
            p.remove(u'.');
            series = seriesKey(p);
            // "SH01234567" + "0000" is the series' generic programme, not an episode.
            if (p.size() > 10 && !QStringView(p).mid(10).trimmed().toString().remove(u'0').isEmpty())
                programmeId = p;
        } else if (!number.isValid()) {
            const EpisodeNumber n = parseEpisodeNumber(e.system, e.value);
            if (n.isValid())
                number = n;
        }
    }
    id.series = series;
    if (!programmeId.isEmpty())
        id.ids = hashOf(u"id:", programmeId);
    else if (series && number.isValid())
        id.ids = quint64(qHashMulti(size_t(0x5e), series, number.season, number.episode)) | 1;
    if (number.isValid())
        id.episode = hashOf(u"ep:", t, number.season, number.episode);
    const QString sub = normaliseText(subTitle);
    if (!sub.isEmpty())
        id.subTitle = hashOf(t, QString(u"\x1fsub:" + sub));
    const QString desc = normaliseText(description);
    if (!desc.isEmpty())
        id.description = hashOf(t, QString(u"\x1f" u"desc:" + desc));
    return id;
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

void DuplicateIndex::clear()
{
    m_entries.clear();
    for (auto &h : m_byKey)
        h.clear();
}

int DuplicateIndex::add(const EpisodeIdentity &identity, qint64 owner)
{
    const int n = int(m_entries.size());
    m_entries.push_back({identity, owner, true});
    for (int i = 0; i < 4; ++i)
        if (const quint64 k = identity.key(DuplicateLayer(i + 1)))
            m_byKey[i][k].append(n);
    return n;
}

void DuplicateIndex::remove(int entry)
{
    if (entry >= 0 && entry < int(m_entries.size()))
        m_entries[size_t(entry)].live = false;
}

DuplicateIndex::Match DuplicateIndex::find(const EpisodeIdentity &identity, quint8 methods, qint64 owner) const
{
    Match best;
    for (int i = 0; i < 4; ++i) {
        if (!(methods & (1 << i)))
            continue;
        const quint64 k = identity.key(DuplicateLayer(i + 1));
        if (!k)
            continue;
        const auto it = m_byKey[i].constFind(k);
        if (it == m_byKey[i].cend())
            continue;
        for (const int e : *it) {
            const Entry &entry = m_entries[size_t(e)];
            if (!entry.live || (owner && entry.owner != owner) || (best && e >= best.entry))
                continue;
            const DuplicateLayer layer = sameEpisode(identity, entry.identity, methods);
            if (layer != DuplicateLayer::None)
                best = {e, layer};
        }
    }
    return best;
}

} // namespace iptv::dvr
