// Folding and tokenising text for search. Both the guide compiler (index side) and the box
// (query side) go through these functions, so what matches is decided in one place.

#include "search.h"

#include <QChar>
#include <QString>

#include <mutex>
#include <vector>

namespace iptv::epg {

namespace {

/// Fold results for every BMP code unit, computed once: NFKD, drop non-spacing marks, case fold.
/// Per-character folding equals whole-string folding for the scripts we care about and is
/// about two orders of magnitude faster than QString::normalized on every text.
struct FoldTable
{
    std::vector<quint32> offsetAndLength; // offset << 8 | length, per code unit
    QString pool;

    FoldTable()
    {
        offsetAndLength.resize(0x10000);
        pool.reserve(0x12000);
        for (char32_t c = 0; c < 0x10000; ++c) {
            QString folded;
            if (c < 0x80) {
                folded = QChar(char16_t(c >= 'A' && c <= 'Z' ? c + 32 : c));
            } else if (QChar::isSurrogate(c)) {
                folded = QChar(char16_t(c));
            } else {
                const QString decomposed = QString(QChar(char16_t(c))).normalized(QString::NormalizationForm_KD);
                for (QChar ch : decomposed) {
                    const auto cat = ch.category();
                    if (cat == QChar::Mark_NonSpacing || cat == QChar::Mark_Enclosing)
                        continue;
                    folded += ch;
                }
                folded = folded.toCaseFolded();
                // Qt folds simply (one to one); full folding turns the sharp s into "ss".
                if (folded == u"\u00DF" || folded == u"\u1E9E")
                    folded = QStringLiteral("ss");
            }
            offsetAndLength[c] = quint32(pool.size()) << 8 | quint32(folded.size());
            pool += folded;
        }
    }
};

const FoldTable &foldTable()
{
    static const FoldTable table;
    return table;
}

bool isSingleCharToken(char32_t c)
{
    switch (QChar::script(c)) {
    case QChar::Script_Han:
    case QChar::Script_Hiragana:
    case QChar::Script_Katakana:
    case QChar::Script_Thai:
        return true;
    default:
        return false;
    }
}

} // namespace

QString foldForSearch(QStringView text)
{
    const FoldTable &table = foldTable();
    QString out;
    out.reserve(text.size());
    for (qsizetype i = 0; i < text.size(); ++i) {
        const char16_t c = text[i].unicode();
        if (c < 0x80) {
            out += QChar(char16_t(c >= 'A' && c <= 'Z' ? c + 32 : c));
            continue;
        }
        const quint32 entry = table.offsetAndLength[c];
        out += QStringView(table.pool).mid(entry >> 8, entry & 0xff);
    }
    return out;
}

QStringList searchTokens(QStringView text)
{
    QStringList tokens;
    const QString folded = foldForSearch(text);
    const QStringView view(folded);
    qsizetype start = -1;
    auto flush = [&](qsizetype end) {
        if (start >= 0 && end > start)
            tokens.append(view.mid(start, end - start).toString());
        start = -1;
    };
    for (qsizetype i = 0; i < view.size();) {
        char32_t c = view[i].unicode();
        qsizetype len = 1;
        if (QChar::isHighSurrogate(c) && i + 1 < view.size() && view[i + 1].isLowSurrogate()) {
            c = QChar::surrogateToUcs4(view[i], view[i + 1]);
            len = 2;
        }
        if (QChar::isLetterOrNumber(c)) {
            if (isSingleCharToken(c)) {
                flush(i);
                tokens.append(view.mid(i, len).toString());
            } else if (start < 0) {
                start = i;
            }
        } else if (QChar::category(c) == QChar::Mark_SpacingCombining && start >= 0) {
            // Indic vowel signs belong to the word they follow.
        } else {
            flush(i);
        }
        i += len;
    }
    flush(view.size());
    return tokens;
}

} // namespace iptv::epg
