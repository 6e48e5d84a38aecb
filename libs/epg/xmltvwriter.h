#pragma once

// XMLTV writer: prints channels and programmes in the DTD's element order, so that reading the
// output back with XmltvReader gives the same Channel and Programme values.

#include "programme.h"

#include <QByteArray>
#include <QString>
#include <QXmlStreamWriter>

QT_BEGIN_NAMESPACE
class QIODevice;
QT_END_NAMESPACE

namespace iptv::epg {

class XmltvWriter
{
public:
    explicit XmltvWriter(QIODevice *out); ///< UTF-8, indented, with <!DOCTYPE tv SYSTEM "xmltv.dtd">

    void writeStart(const QString &generatorName = {}, const QString &sourceInfoName = {});
    void writeChannel(const Channel &);
    void writeProgramme(const Programme &); ///< times printed in the programme's startUtcOffset
    void writeEnd();
    bool hasError() const;

    /// Plain XML, or gzip/xz compressed when the path ends in .gz/.xz. Written atomically.
    static bool writeFile(const GuideData &, const QString &path, QString *error = nullptr);
    static QByteArray toBytes(const GuideData &);

private:
    void writeLangText(const QString &element, const LangText &text);
    void writeIcon(const Icon &icon);
    void writeRating(const QString &element, const Rating &rating);

    QXmlStreamWriter m_xml;
};

} // namespace iptv::epg
