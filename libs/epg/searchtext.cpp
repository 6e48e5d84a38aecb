// Folding and tokenising text for search. Both the guide's search index and queries go through
// these functions, so what matches is decided in one place.

#include "search.h"
#include "searchtext_p.h"

#include <QChar>
#include <QString>

namespace iptv::epg {

namespace searchtext {

namespace {

/// NFKD, drop non-spacing marks, case fold: per code point, which for the scripts a guide holds
/// equals whole-string folding and is two orders of magnitude faster than QString::normalized.
QString foldCodePoint(char16_t c)
{
    if (c < 0x80)
        return QChar(char16_t(c >= 'A' && c <= 'Z' ? c + 32 : c));
    if (QChar::isSurrogate(c))
        return QChar(c);
    const QString decomposed = QString(QChar(c)).normalized(QString::NormalizationForm_KD);
    QString folded;
    for (QChar ch : decomposed) {
        const auto cat = ch.category();
        if (cat == QChar::Mark_NonSpacing || cat == QChar::Mark_Enclosing)
            continue;
        folded += ch;
    }
    folded = folded.toCaseFolded();
    // Qt folds one to one; full case folding turns the sharp s into "ss".
    if (folded == u"\u00DF" || folded == u"\u1E9E")
        folded = QStringLiteral("ss");
    return folded;
}

CharClass classify(char16_t c)
{
    if (QChar::isLetterOrNumber(c)) {
        switch (QChar::script(c)) {
        case QChar::Script_Han:
        case QChar::Script_Hiragana:
        case QChar::Script_Katakana:
        case QChar::Script_Thai:
            return Single; // no spaces between words in these scripts
        default:
            return Word;
        }
    }
    // Indic vowel signs belong to the word they follow.
    return QChar::category(c) == QChar::Mark_SpacingCombining ? Joiner : Separator;
}

Tables build()
{
    Tables t;
    t.fold.resize(0x10000);
    t.charClass.resize(0x10000);
    t.pool.reserve(0x12000);
    for (char32_t c = 0; c < 0x10000; ++c) {
        const QString folded = foldCodePoint(char16_t(c));
        t.fold[c] = quint32(t.pool.size()) << 8 | quint32(folded.size());
        t.pool.append(reinterpret_cast<const char16_t *>(folded.utf16()), size_t(folded.size()));
        t.charClass[c] = QChar::isSurrogate(c) ? Separator : classify(char16_t(c));
    }
    for (int c = 0; c < 128; ++c) {
        const bool word = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        t.ascii[c] = word ? quint8(c >= 'A' && c <= 'Z' ? c + 32 : c) : 0;
    }
    return t;
}

} // namespace

const Tables &tables()
{
    static const Tables t = build();
    return t;
}

bool isLetterOrNumberOutsideBmp(char32_t c)
{
    return QChar::isLetterOrNumber(c);
}

} // namespace searchtext

QString foldForSearch(QStringView text)
{
    const searchtext::Tables &t = searchtext::tables();
    QString out;
    out.reserve(text.size());
    for (QChar ch : text) {
        const quint32 entry = t.fold[ch.unicode()];
        out.append(reinterpret_cast<const QChar *>(t.pool.data() + (entry >> 8)), qsizetype(entry & 0xff));
    }
    return out;
}

QStringList searchTokens(QStringView text)
{
    const QByteArray utf8 = text.toUtf8();
    QStringList tokens;
    searchtext::tokenize(utf8.constData(), utf8.size(),
                         [&](const char *data, size_t size, quint64) { tokens.append(QString::fromUtf8(data, qsizetype(size))); });
    return tokens;
}

} // namespace iptv::epg
