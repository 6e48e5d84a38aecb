#include "xmltvwriter.h"

#include "xmltvtime.h"

#include <QBuffer>
#include <QIODevice>
#include <QSaveFile>

#include <archive.h>
#include <archive_entry.h>

namespace iptv::epg {

namespace {

const QString &creditElement(Credit::Role role)
{
    static const QString names[] = {
        QStringLiteral("director"), QStringLiteral("actor"),     QStringLiteral("writer"),
        QStringLiteral("adapter"),  QStringLiteral("producer"),  QStringLiteral("composer"),
        QStringLiteral("editor"),   QStringLiteral("presenter"), QStringLiteral("commentator"),
        QStringLiteral("guest"),
    };
    const auto index = std::size_t(role);
    return names[index < std::size(names) ? index : 1];
}

QString yesNo(bool v)
{
    return v ? QStringLiteral("yes") : QStringLiteral("no");
}

bool isXmlChar(char16_t c)
{
    return c >= 0x20 ? (c < 0xD800 || (c >= 0xE000 && c < 0xFFFE)) : (c == u'\t' || c == u'\n' || c == u'\r');
}

// QXmlStreamWriter stops with a broken document at the first character XML 1.0 cannot carry.
// Texts from the reader never have one, but a lineup or the SQL store might: a control character
// becomes a space (as the reader does), anything else U+FFFD; surrogate pairs are kept.
QString xmlSafe(const QString &s)
{
    const qsizetype n = s.size();
    const char16_t *d = reinterpret_cast<const char16_t *>(s.constData());
    qsizetype i = 0;
    for (; i < n; ++i) {
        if (!isXmlChar(d[i])) {
            if (QChar::isHighSurrogate(d[i]) && i + 1 < n && QChar::isLowSurrogate(d[i + 1])) {
                ++i;
                continue;
            }
            break;
        }
    }
    if (i == n)
        return s;
    QString out = s;
    for (; i < n; ++i) {
        const char16_t c = d[i];
        if (isXmlChar(c))
            continue;
        if (QChar::isHighSurrogate(c) && i + 1 < n && QChar::isLowSurrogate(d[i + 1])) {
            ++i;
            continue;
        }
        out[i] = c < 0x20 ? QChar(u' ') : QChar(QChar::ReplacementCharacter);
    }
    return out;
}

la_ssize_t writeToDevice(archive *, void *client, const void *buffer, size_t length)
{
    return la_ssize_t(static_cast<QIODevice *>(client)->write(static_cast<const char *>(buffer), qint64(length)));
}

// Compresses with libarchive's raw format (a single stream, no container), as the reader expects.
bool writeCompressed(const QByteArray &xml, QIODevice *out, bool xz, QString *error)
{
    archive *a = archive_write_new();
    const int filter = xz ? archive_write_add_filter_xz(a) : archive_write_add_filter_gzip(a);
    bool ok = filter == ARCHIVE_OK && archive_write_set_format_raw(a) == ARCHIVE_OK
        && archive_write_set_bytes_in_last_block(a, 1) == ARCHIVE_OK
        && archive_write_open(a, out, nullptr, &writeToDevice, nullptr) == ARCHIVE_OK;
    if (ok) {
        archive_entry *entry = archive_entry_new();
        archive_entry_set_pathname(entry, "guide.xml");
        archive_entry_set_filetype(entry, AE_IFREG);
        archive_entry_set_perm(entry, 0644);
        archive_entry_set_size(entry, xml.size());
        ok = archive_write_header(a, entry) == ARCHIVE_OK;
        archive_entry_free(entry);
        qint64 done = 0;
        while (ok && done < xml.size()) {
            const la_ssize_t n = archive_write_data(a, xml.constData() + done, size_t(xml.size() - done));
            ok = n > 0;
            done += n > 0 ? n : 0;
        }
        ok = archive_write_close(a) == ARCHIVE_OK && ok;
    }
    if (!ok && error) {
        const char *s = archive_error_string(a);
        *error = u"compression failed: " + (s ? QString::fromLocal8Bit(s) : out->errorString());
    }
    archive_write_free(a);
    return ok;
}

} // namespace

XmltvWriter::XmltvWriter(QIODevice *out) : m_xml(out)
{
    m_xml.setAutoFormatting(true);
    m_xml.setAutoFormattingIndent(2);
}

void XmltvWriter::writeStart(const QString &generatorName, const QString &sourceInfoName)
{
    m_xml.writeStartDocument();
    m_xml.writeDTD(QStringLiteral("<!DOCTYPE tv SYSTEM \"xmltv.dtd\">"));
    m_xml.writeStartElement(QStringLiteral("tv"));
    if (!sourceInfoName.isEmpty())
        m_xml.writeAttribute(QStringLiteral("source-info-name"), xmlSafe(sourceInfoName));
    if (!generatorName.isEmpty())
        m_xml.writeAttribute(QStringLiteral("generator-info-name"), xmlSafe(generatorName));
}

void XmltvWriter::writeLangText(const QString &element, const LangText &text)
{
    m_xml.writeStartElement(element);
    if (!text.lang.isEmpty())
        m_xml.writeAttribute(QStringLiteral("lang"), xmlSafe(text.lang));
    m_xml.writeCharacters(xmlSafe(text.text));
    m_xml.writeEndElement();
}

void XmltvWriter::writeIcon(const Icon &icon)
{
    m_xml.writeEmptyElement(QStringLiteral("icon"));
    m_xml.writeAttribute(QStringLiteral("src"), xmlSafe(icon.src));
    if (icon.width > 0)
        m_xml.writeAttribute(QStringLiteral("width"), QString::number(icon.width));
    if (icon.height > 0)
        m_xml.writeAttribute(QStringLiteral("height"), QString::number(icon.height));
}

void XmltvWriter::writeRating(const QString &element, const Rating &rating)
{
    m_xml.writeStartElement(element);
    if (!rating.system.isEmpty())
        m_xml.writeAttribute(QStringLiteral("system"), xmlSafe(rating.system));
    m_xml.writeTextElement(QStringLiteral("value"), xmlSafe(rating.value));
    for (const Icon &icon : rating.icons)
        writeIcon(icon);
    m_xml.writeEndElement();
}

void XmltvWriter::writeChannel(const Channel &c)
{
    m_xml.writeStartElement(QStringLiteral("channel"));
    m_xml.writeAttribute(QStringLiteral("id"), xmlSafe(c.id));
    // The DTD wants at least one display-name: a channel known only by the id its programmes
    // used (never declared in the input) is named by that id.
    for (const LangText &name : c.displayNames)
        writeLangText(QStringLiteral("display-name"), name);
    if (c.displayNames.isEmpty())
        writeLangText(QStringLiteral("display-name"), {QString(), c.id});
    for (const Icon &icon : c.icons)
        writeIcon(icon);
    for (const QString &url : c.urls)
        m_xml.writeTextElement(QStringLiteral("url"), xmlSafe(url));
    m_xml.writeEndElement();
}

void XmltvWriter::writeProgramme(const Programme &p)
{
    m_xml.writeStartElement(QStringLiteral("programme"));
    m_xml.writeAttribute(QStringLiteral("start"), formatXmltvTime(p.start, p.startUtcOffset));
    if (p.stop != 0)
        m_xml.writeAttribute(QStringLiteral("stop"), formatXmltvTime(p.stop, p.startUtcOffset));
    m_xml.writeAttribute(QStringLiteral("channel"), xmlSafe(p.channelId));

    // DTD order from here on; at least one title.
    for (const LangText &t : p.titles)
        writeLangText(QStringLiteral("title"), t);
    if (p.titles.isEmpty())
        writeLangText(QStringLiteral("title"), {});
    for (const LangText &t : p.subTitles)
        writeLangText(QStringLiteral("sub-title"), t);
    for (const LangText &t : p.descs)
        writeLangText(QStringLiteral("desc"), t);
    if (!p.credits.isEmpty()) {
        m_xml.writeStartElement(QStringLiteral("credits"));
        // Stable by role: the DTD wants directors first, guests last; within a role, source order.
        for (int role = int(Credit::Role::Director); role <= int(Credit::Role::Guest); ++role) {
            for (const Credit &c : p.credits) {
                if (int(c.role) != role)
                    continue;
                m_xml.writeStartElement(creditElement(c.role));
                if (!c.character.isEmpty())
                    m_xml.writeAttribute(QStringLiteral("role"), xmlSafe(c.character));
                if (c.guest)
                    m_xml.writeAttribute(QStringLiteral("guest"), QStringLiteral("yes"));
                m_xml.writeCharacters(xmlSafe(c.name));
                m_xml.writeEndElement();
            }
        }
        m_xml.writeEndElement();
    }
    if (!p.date.isEmpty())
        m_xml.writeTextElement(QStringLiteral("date"), xmlSafe(p.date));
    for (const LangText &t : p.categories)
        writeLangText(QStringLiteral("category"), t);
    for (const LangText &t : p.keywords)
        writeLangText(QStringLiteral("keyword"), t);
    if (!p.language.text.isEmpty() || !p.language.lang.isEmpty())
        writeLangText(QStringLiteral("language"), p.language);
    if (!p.origLanguage.text.isEmpty() || !p.origLanguage.lang.isEmpty())
        writeLangText(QStringLiteral("orig-language"), p.origLanguage);
    if (p.lengthSeconds > 0) {
        m_xml.writeStartElement(QStringLiteral("length"));
        if (p.lengthSeconds % 60 == 0) {
            m_xml.writeAttribute(QStringLiteral("units"), QStringLiteral("minutes"));
            m_xml.writeCharacters(QString::number(p.lengthSeconds / 60));
        } else {
            m_xml.writeAttribute(QStringLiteral("units"), QStringLiteral("seconds"));
            m_xml.writeCharacters(QString::number(p.lengthSeconds));
        }
        m_xml.writeEndElement();
    }
    for (const Icon &icon : p.icons)
        writeIcon(icon);
    for (const QString &url : p.urls)
        m_xml.writeTextElement(QStringLiteral("url"), xmlSafe(url));
    for (const LangText &t : p.countries)
        writeLangText(QStringLiteral("country"), t);
    for (const EpisodeNum &e : p.episodeNums) {
        m_xml.writeStartElement(QStringLiteral("episode-num"));
        if (!e.system.isEmpty())
            m_xml.writeAttribute(QStringLiteral("system"), xmlSafe(e.system));
        m_xml.writeCharacters(xmlSafe(e.value));
        m_xml.writeEndElement();
    }
    if (p.video.isSet()) {
        m_xml.writeStartElement(QStringLiteral("video"));
        if (p.video.hasPresent)
            m_xml.writeTextElement(QStringLiteral("present"), yesNo(p.video.present));
        if (p.video.hasColour)
            m_xml.writeTextElement(QStringLiteral("colour"), yesNo(p.video.colour));
        if (!p.video.aspect.isEmpty())
            m_xml.writeTextElement(QStringLiteral("aspect"), xmlSafe(p.video.aspect));
        if (!p.video.quality.isEmpty())
            m_xml.writeTextElement(QStringLiteral("quality"), xmlSafe(p.video.quality));
        m_xml.writeEndElement();
    }
    if (p.audio.isSet()) {
        m_xml.writeStartElement(QStringLiteral("audio"));
        if (p.audio.hasPresent)
            m_xml.writeTextElement(QStringLiteral("present"), yesNo(p.audio.present));
        if (!p.audio.stereo.isEmpty())
            m_xml.writeTextElement(QStringLiteral("stereo"), xmlSafe(p.audio.stereo));
        m_xml.writeEndElement();
    }
    const AiringFlags &a = p.airing;
    if (a.previouslyShown) {
        m_xml.writeEmptyElement(QStringLiteral("previously-shown"));
        if (!a.previouslyShownStart.isEmpty())
            m_xml.writeAttribute(QStringLiteral("start"), xmlSafe(a.previouslyShownStart));
        if (!a.previouslyShownChannel.isEmpty())
            m_xml.writeAttribute(QStringLiteral("channel"), xmlSafe(a.previouslyShownChannel));
    }
    if (a.premiere)
        writeLangText(QStringLiteral("premiere"), a.premiereText);
    if (a.lastChance)
        writeLangText(QStringLiteral("last-chance"), a.lastChanceText);
    if (a.isNew)
        m_xml.writeEmptyElement(QStringLiteral("new"));
    for (const Subtitles &s : p.subtitles) {
        m_xml.writeStartElement(QStringLiteral("subtitles"));
        if (!s.type.isEmpty())
            m_xml.writeAttribute(QStringLiteral("type"), xmlSafe(s.type));
        if (!s.lang.isEmpty())
            m_xml.writeTextElement(QStringLiteral("language"), xmlSafe(s.lang));
        m_xml.writeEndElement();
    }
    for (const Rating &r : p.ratings)
        writeRating(QStringLiteral("rating"), r);
    for (const Rating &r : p.starRatings)
        writeRating(QStringLiteral("star-rating"), r);
    for (const LangText &t : p.reviews) {
        m_xml.writeStartElement(QStringLiteral("review"));
        m_xml.writeAttribute(QStringLiteral("type"), QStringLiteral("text"));
        if (!t.lang.isEmpty())
            m_xml.writeAttribute(QStringLiteral("lang"), xmlSafe(t.lang));
        m_xml.writeCharacters(xmlSafe(t.text));
        m_xml.writeEndElement();
    }
    m_xml.writeEndElement();
}

void XmltvWriter::writeEnd()
{
    m_xml.writeEndElement(); // tv
    m_xml.writeEndDocument();
}

bool XmltvWriter::hasError() const
{
    return m_xml.hasError();
}

QByteArray XmltvWriter::toBytes(const GuideData &data)
{
    QByteArray bytes;
    QBuffer buffer(&bytes);
    buffer.open(QIODevice::WriteOnly);
    XmltvWriter writer(&buffer);
    writer.writeStart(data.generatorName, data.sourceInfoName);
    for (const Channel &c : data.channels)
        writer.writeChannel(c);
    for (const Programme &p : data.programmes)
        writer.writeProgramme(p);
    writer.writeEnd();
    return bytes;
}

bool XmltvWriter::writeFile(const GuideData &data, const QString &path, QString *error)
{
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)) {
        if (error)
            *error = u"cannot write " + path + u": " + file.errorString();
        return false;
    }
    const bool gz = path.endsWith(u".gz", Qt::CaseInsensitive);
    const bool xz = path.endsWith(u".xz", Qt::CaseInsensitive);
    if (gz || xz) {
        if (!writeCompressed(toBytes(data), &file, xz, error)) {
            file.cancelWriting();
            return false;
        }
    } else {
        XmltvWriter writer(&file);
        writer.writeStart(data.generatorName, data.sourceInfoName);
        for (const Channel &c : data.channels)
            writer.writeChannel(c);
        for (const Programme &p : data.programmes)
            writer.writeProgramme(p);
        writer.writeEnd();
        if (writer.hasError()) {
            if (error)
                *error = u"cannot write " + path + u": " + file.errorString();
            file.cancelWriting();
            return false;
        }
    }
    if (!file.commit()) {
        if (error)
            *error = u"cannot write " + path + u": " + file.errorString();
        return false;
    }
    return true;
}

} // namespace iptv::epg
