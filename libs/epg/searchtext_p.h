#pragma once

// The one tokenizer behind search: folds and splits UTF-8 text straight from the guide's string
// pool, without building QStrings, fast enough to index two weeks of a large lineup when a box
// opens its guide. searchTokens() (queries) runs through the same code, so index and query agree.

#include <QtGlobal>

#include <string>
#include <vector>

namespace iptv::epg::searchtext {

enum CharClass : quint8 { Separator = 0, Word = 1, Single = 2, Joiner = 3 };

struct Tables
{
    std::vector<quint32> fold;   ///< per BMP code point: pool offset << 8 | length
    std::u16string pool;         ///< folded forms
    std::vector<quint8> charClass; ///< per folded BMP code unit
    quint8 ascii[128];           ///< folded ASCII byte, 0 for separators
};

/// Built once per process (about 20 ms), thread-safe.
const Tables &tables();

/// Tokens longer than this are cut; queries go through the same cut, so they still match.
inline constexpr int kMaxTokenBytes = 96;

/// Builds one token: bytes plus their FNV-1a hash, computed as they arrive.
struct TokenBuffer
{
    char bytes[kMaxTokenBytes];
    int size = 0;
    quint64 hash = kHashBasis;
    static constexpr quint64 kHashBasis = 0xcbf29ce484222325ULL;

    void put(char c)
    {
        if (size < kMaxTokenBytes) {
            bytes[size++] = c;
            hash = (hash ^ quint8(c)) * 0x100000001b3ULL;
        }
    }
    void putUtf8(char32_t c)
    {
        if (c < 0x80) {
            put(char(c));
        } else if (c < 0x800) {
            put(char(0xC0 | (c >> 6)));
            put(char(0x80 | (c & 0x3F)));
        } else if (c < 0x10000) {
            put(char(0xE0 | (c >> 12)));
            put(char(0x80 | ((c >> 6) & 0x3F)));
            put(char(0x80 | (c & 0x3F)));
        } else {
            put(char(0xF0 | (c >> 18)));
            put(char(0x80 | ((c >> 12) & 0x3F)));
            put(char(0x80 | ((c >> 6) & 0x3F)));
            put(char(0x80 | (c & 0x3F)));
        }
    }
    void reset()
    {
        size = 0;
        hash = kHashBasis;
    }
};

/// The hash TokenBuffer computes, for tokens that come from elsewhere.
inline quint64 tokenHash(const char *data, size_t size)
{
    quint64 h = TokenBuffer::kHashBasis;
    for (size_t i = 0; i < size; ++i)
        h = (h ^ quint8(data[i])) * 0x100000001b3ULL;
    return h;
}

bool isLetterOrNumberOutsideBmp(char32_t c);

/// Calls emit(const char *data, size_t size, quint64 hash) for every folded token of UTF-8
/// `text`, in order. Invalid UTF-8 bytes separate tokens; a character whose case folding would
/// cut a token short (a trailing partial code point) cannot occur since folding is per character.
template<typename Emit>
void tokenize(const char *text, qsizetype size, Emit &&emit)
{
    const Tables &t = tables();
    TokenBuffer token;
    auto flush = [&] {
        if (token.size) {
            emit(token.bytes, size_t(token.size), token.hash);
            token.reset();
        }
    };
    const auto *p = reinterpret_cast<const quint8 *>(text);
    qsizetype i = 0;
    while (i < size) {
        const quint8 b = p[i];
        if (b < 0x80) {
            const quint8 c = t.ascii[b];
            if (c)
                token.put(char(c));
            else
                flush();
            ++i;
            continue;
        }
        char32_t cp = 0;
        int len = 0;
        if ((b & 0xE0) == 0xC0) { cp = b & 0x1F; len = 2; }
        else if ((b & 0xF0) == 0xE0) { cp = b & 0x0F; len = 3; }
        else if ((b & 0xF8) == 0xF0) { cp = b & 0x07; len = 4; }
        bool valid = len > 0 && i + len <= size;
        for (int k = 1; valid && k < len; ++k) {
            if ((p[i + k] & 0xC0) != 0x80)
                valid = false;
            else
                cp = cp << 6 | (p[i + k] & 0x3F);
        }
        if (!valid) {
            flush();
            ++i;
            continue;
        }
        i += len;
        if (cp >= 0x10000) {
            if (isLetterOrNumberOutsideBmp(cp))
                token.putUtf8(cp);
            else
                flush();
            continue;
        }
        const quint32 entry = t.fold[cp];
        const char16_t *f = t.pool.data() + (entry >> 8);
        for (quint32 k = 0; k < (entry & 0xff); ++k) {
            const char16_t c = f[k];
            switch (t.charClass[c]) {
            case Word:
                token.putUtf8(c);
                break;
            case Single:
                flush();
                token.putUtf8(c);
                flush();
                break;
            case Joiner:
                if (token.size)
                    token.putUtf8(c);
                break;
            default:
                flush();
            }
        }
    }
    flush();
}

} // namespace iptv::epg::searchtext
