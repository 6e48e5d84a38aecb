#pragma once

// Search over an opened Guide: case- and accent-insensitive, every word a prefix
// (search-as-you-type), several words AND-ed, over title, sub-title, description and credits.
// Results are programmes, each with its soonest matching airing; title hits rank first,
// then the soonest airing.

#include "guide.h"

#include <QList>
#include <QString>
#include <QStringView>

#include <functional>
#include <vector>

namespace iptv::epg {

/// Folds text for matching: NFKD, combining marks removed, case folded (Greek final sigma too).
QString foldForSearch(QStringView text);
/// Splits folded text into search tokens: runs of letters and digits; Han, Hiragana and
/// Katakana characters are one token each since those scripts do not separate words.
QStringList searchTokens(QStringView text);

struct SearchQuery
{
    QString text;
    QList<int> channels;     ///< empty = all
    QString category;        ///< folded match on any category, empty = any
    qint64 from = 0;         ///< airings starting at or after (UTC s); 0 = `now`
    qint64 to = 0;           ///< airings starting before; 0 = end of guide
    qint64 now = 0;          ///< reference time for "soonest"; 0 = guide start
    bool newOnly = false;
    int limit = 50;
};

struct SearchHit
{
    Airing airing;           ///< the soonest matching airing of this programme
    bool titleMatch = false; ///< every word matched in the title
};

struct SearchResult
{
    QList<SearchHit> hits;
    qint64 totalProgrammes = 0; ///< programmes matching (before limit); a lower bound unless totalExact
    bool totalExact = true;     ///< false when the search stopped early because the best `limit` were certain
};

class SearchIndex
{
public:
    explicit SearchIndex(const Guide &guide);
    /// The same, running `meanwhile` on this thread once every string is tokenised (while another
    /// thread builds the largest postings): Guide::open packs the descriptions there.
    SearchIndex(const Guide &guide, const std::function<void()> &meanwhile);
    ~SearchIndex();
    SearchResult search(const SearchQuery &query) const;

    /// Where the search switches strategies: the postings it reads at most to build match sets,
    /// and the match count up to which it looks up every programme's soonest airing instead of
    /// walking the timeline. Results never depend on these; tests and benchmarks set them to
    /// force each path. Not thread-safe against concurrent searches.
    void setTuning(quint64 postingsBudget, quint64 evaluateLimit);

    struct Private;
private:
    std::unique_ptr<Private> d;
};

} // namespace iptv::epg
