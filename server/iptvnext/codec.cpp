#include "codec.h"

#include <QCborArray>

namespace iptv::next {

using namespace iptv::epg;

namespace {

// Latin-1 keys go straight into the CBOR map without a QString per key.
QLatin1String k(const char *key) { return QLatin1String(key); }

void putString(QCborMap &m, const char *key, const QString &v)
{
    if (!v.isEmpty())
        m.insert(k(key), v);
}

void putInt(QCborMap &m, const char *key, qint64 v)
{
    if (v != 0)
        m.insert(k(key), v);
}

void putBool(QCborMap &m, const char *key, bool v)
{
    if (v)
        m.insert(k(key), true);
}

/// An array under `key` (left out when the list is empty), each element made by `encode`.
template<typename List, typename Encode>
void putList(QCborMap &m, const char *key, const List &list, Encode encode)
{
    if (list.isEmpty())
        return;
    QCborArray a;
    for (const auto &x : list)
        a.append(encode(x));
    m.insert(k(key), a);
}

/// The array `v`, each element read by `decode`.
template<typename T, typename Decode>
QList<T> listFrom(const QCborValue &v, Decode decode)
{
    QList<T> out;
    const QCborArray a = v.toArray();
    out.reserve(a.size());
    for (const QCborValue &x : a)
        out.append(decode(x));
    return out;
}

QCborValue langText(const LangText &t)
{
    QCborMap m;
    putString(m, "lang", t.lang);
    m.insert(k("text"), t.text);
    return m;
}

LangText langTextFrom(const QCborValue &v)
{
    return {v[k("lang")].toString(), v[k("text")].toString()};
}

void putLangTexts(QCborMap &m, const char *key, const QList<LangText> &list)
{
    putList(m, key, list, langText);
}

QList<LangText> langTexts(const QCborMap &m, const char *key)
{
    return listFrom<LangText>(m.value(k(key)), langTextFrom);
}

void putLangText(QCborMap &m, const char *key, const LangText &t)
{
    if (!t.text.isEmpty() || !t.lang.isEmpty())
        m.insert(k(key), langText(t));
}

QCborValue icon(const Icon &i)
{
    QCborMap m;
    m.insert(k("src"), i.src);
    putInt(m, "width", i.width);
    putInt(m, "height", i.height);
    return m;
}

Icon iconFrom(const QCborValue &v)
{
    return {v[k("src")].toString(), int(v[k("width")].toInteger()), int(v[k("height")].toInteger())};
}

void putIcons(QCborMap &m, const char *key, const QList<Icon> &list)
{
    putList(m, key, list, icon);
}

QList<Icon> icons(const QCborValue &v)
{
    return listFrom<Icon>(v, iconFrom);
}

void putStrings(QCborMap &m, const char *key, const QStringList &list)
{
    putList(m, key, list, [](const QString &s) { return QCborValue(s); });
}

QStringList strings(const QCborMap &m, const char *key)
{
    return listFrom<QString>(m.value(k(key)), [](const QCborValue &v) { return v.toString(); });
}

const char *roleName(Credit::Role r)
{
    switch (r) {
    case Credit::Role::Director: return "director";
    case Credit::Role::Actor: return "actor";
    case Credit::Role::Writer: return "writer";
    case Credit::Role::Adapter: return "adapter";
    case Credit::Role::Producer: return "producer";
    case Credit::Role::Composer: return "composer";
    case Credit::Role::Editor: return "editor";
    case Credit::Role::Presenter: return "presenter";
    case Credit::Role::Commentator: return "commentator";
    case Credit::Role::Guest: return "guest";
    }
    return "actor";
}

Credit::Role roleFrom(const QString &name)
{
    static const Credit::Role all[] = {Credit::Role::Director, Credit::Role::Actor, Credit::Role::Writer,
                                       Credit::Role::Adapter, Credit::Role::Producer, Credit::Role::Composer,
                                       Credit::Role::Editor, Credit::Role::Presenter, Credit::Role::Commentator,
                                       Credit::Role::Guest};
    for (auto r : all) {
        if (name == QLatin1String(roleName(r)))
            return r;
    }
    return Credit::Role::Actor;
}

QCborValue rating(const Rating &r)
{
    QCborMap m;
    putString(m, "system", r.system);
    putString(m, "value", r.value);
    putIcons(m, "icons", r.icons);
    return m;
}

Rating ratingFrom(const QCborValue &v)
{
    return {v[k("system")].toString(), v[k("value")].toString(), icons(v[k("icons")])};
}

void putRatings(QCborMap &m, const char *key, const QList<Rating> &list)
{
    putList(m, key, list, rating);
}

QList<Rating> ratings(const QCborMap &m, const char *key)
{
    return listFrom<Rating>(m.value(k(key)), ratingFrom);
}

} // namespace

QCborMap channelToCbor(const Channel &c)
{
    QCborMap m;
    m.insert(k("id"), c.id);
    putLangTexts(m, "displayNames", c.displayNames);
    putIcons(m, "icons", c.icons);
    putStrings(m, "urls", c.urls);
    putInt(m, "number", c.number);
    putString(m, "group", c.group);
    putString(m, "streamUrl", c.streamUrl);
    return m;
}

Channel channelFromCbor(const QCborMap &m)
{
    Channel c;
    c.id = m.value(k("id")).toString();
    c.displayNames = langTexts(m, "displayNames");
    c.icons = icons(m.value(k("icons")));
    c.urls = strings(m, "urls");
    c.number = int(m.value(k("number")).toInteger());
    c.group = m.value(k("group")).toString();
    c.streamUrl = m.value(k("streamUrl")).toString();
    return c;
}

QCborMap programmeToCbor(const Programme &p)
{
    QCborMap m;
    m.insert(k("channel"), p.channelId);
    m.insert(k("start"), p.start);
    putInt(m, "stop", p.stop);
    putInt(m, "startUtcOffset", p.startUtcOffset);
    putInt(m, "line", p.origin.line); // the source is the row's; the line names it in compile diagnostics
    putLangTexts(m, "titles", p.titles);
    putLangTexts(m, "subTitles", p.subTitles);
    putLangTexts(m, "descs", p.descs);
    putList(m, "credits", p.credits, [](const Credit &c) {
        QCborMap cm;
        cm.insert(k("role"), QLatin1String(roleName(c.role)));
        cm.insert(k("name"), c.name);
        putString(cm, "character", c.character);
        putBool(cm, "guest", c.guest);
        return cm;
    });
    putString(m, "date", p.date);
    putLangTexts(m, "categories", p.categories);
    putLangTexts(m, "keywords", p.keywords);
    putLangText(m, "language", p.language);
    putLangText(m, "origLanguage", p.origLanguage);
    putInt(m, "lengthSeconds", p.lengthSeconds);
    putIcons(m, "icons", p.icons);
    putStrings(m, "urls", p.urls);
    putLangTexts(m, "countries", p.countries);
    putList(m, "episodeNums", p.episodeNums, [](const EpisodeNum &e) {
        QCborMap em;
        putString(em, "system", e.system);
        em.insert(k("value"), e.value);
        return em;
    });
    if (p.video != Video{}) {
        QCborMap v;
        if (p.video.hasPresent)
            v.insert(k("present"), p.video.present);
        if (p.video.hasColour)
            v.insert(k("colour"), p.video.colour);
        putString(v, "aspect", p.video.aspect);
        putString(v, "quality", p.video.quality);
        m.insert(k("video"), v);
    }
    if (p.audio != Audio{}) {
        QCborMap a;
        if (p.audio.hasPresent)
            a.insert(k("present"), p.audio.present);
        putString(a, "stereo", p.audio.stereo);
        m.insert(k("audio"), a);
    }
    putList(m, "subtitles", p.subtitles, [](const Subtitles &t) {
        QCborMap sm;
        putString(sm, "type", t.type);
        putString(sm, "lang", t.lang);
        return sm;
    });
    putRatings(m, "ratings", p.ratings);
    putRatings(m, "starRatings", p.starRatings);
    putLangTexts(m, "reviews", p.reviews);
    const AiringFlags &f = p.airing;
    if (f != AiringFlags{}) {
        QCborMap fm;
        putBool(fm, "new", f.isNew);
        putBool(fm, "previouslyShown", f.previouslyShown);
        putString(fm, "previouslyShownStart", f.previouslyShownStart);
        putString(fm, "previouslyShownChannel", f.previouslyShownChannel);
        putBool(fm, "premiere", f.premiere);
        putLangText(fm, "premiereText", f.premiereText);
        putBool(fm, "lastChance", f.lastChance);
        putLangText(fm, "lastChanceText", f.lastChanceText);
        m.insert(k("airing"), fm);
    }
    return m;
}

Programme programmeFromCbor(const QCborMap &m)
{
    Programme p;
    p.channelId = m.value(k("channel")).toString();
    p.start = m.value(k("start")).toInteger();
    p.stop = m.value(k("stop")).toInteger();
    p.startUtcOffset = int(m.value(k("startUtcOffset")).toInteger());
    p.origin.line = m.value(k("line")).toInteger();
    p.titles = langTexts(m, "titles");
    p.subTitles = langTexts(m, "subTitles");
    p.descs = langTexts(m, "descs");
    p.credits = listFrom<Credit>(m.value(k("credits")), [](const QCborValue &v) {
        return Credit{roleFrom(v[k("role")].toString()), v[k("name")].toString(), v[k("character")].toString(),
                      v[k("guest")].toBool()};
    });
    p.date = m.value(k("date")).toString();
    p.categories = langTexts(m, "categories");
    p.keywords = langTexts(m, "keywords");
    if (m.contains(k("language")))
        p.language = langTextFrom(m.value(k("language")));
    if (m.contains(k("origLanguage")))
        p.origLanguage = langTextFrom(m.value(k("origLanguage")));
    p.lengthSeconds = int(m.value(k("lengthSeconds")).toInteger());
    p.icons = icons(m.value(k("icons")));
    p.urls = strings(m, "urls");
    p.countries = langTexts(m, "countries");
    p.episodeNums = listFrom<EpisodeNum>(m.value(k("episodeNums")), [](const QCborValue &v) {
        return EpisodeNum{v[k("system")].toString(), v[k("value")].toString()};
    });
    if (m.contains(k("video"))) {
        const QCborValue v = m.value(k("video"));
        p.video.hasPresent = v[k("present")].isBool();
        p.video.present = v[k("present")].toBool(true);
        p.video.hasColour = v[k("colour")].isBool();
        p.video.colour = v[k("colour")].toBool(true);
        p.video.aspect = v[k("aspect")].toString();
        p.video.quality = v[k("quality")].toString();
    }
    if (m.contains(k("audio"))) {
        const QCborValue a = m.value(k("audio"));
        p.audio.hasPresent = a[k("present")].isBool();
        p.audio.present = a[k("present")].toBool(true);
        p.audio.stereo = a[k("stereo")].toString();
    }
    p.subtitles = listFrom<Subtitles>(m.value(k("subtitles")), [](const QCborValue &v) {
        return Subtitles{v[k("type")].toString(), v[k("lang")].toString()};
    });
    p.ratings = ratings(m, "ratings");
    p.starRatings = ratings(m, "starRatings");
    p.reviews = langTexts(m, "reviews");
    if (m.contains(k("airing"))) {
        const QCborMap f = m.value(k("airing")).toMap();
        p.airing.isNew = f.value(k("new")).toBool();
        p.airing.previouslyShown = f.value(k("previouslyShown")).toBool();
        p.airing.previouslyShownStart = f.value(k("previouslyShownStart")).toString();
        p.airing.previouslyShownChannel = f.value(k("previouslyShownChannel")).toString();
        p.airing.premiere = f.value(k("premiere")).toBool();
        if (f.contains(k("premiereText")))
            p.airing.premiereText = langTextFrom(f.value(k("premiereText")));
        p.airing.lastChance = f.value(k("lastChance")).toBool();
        if (f.contains(k("lastChanceText")))
            p.airing.lastChanceText = langTextFrom(f.value(k("lastChanceText")));
    }
    return p;
}

} // namespace iptv::next
