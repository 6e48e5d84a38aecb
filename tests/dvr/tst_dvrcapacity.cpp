// The scheduler's capacity book (libs/dvr/conflict.h) against a brute-force model: every minute,
// node and channel counted out. The book keeps summaries so that a fit check reads a few words
// (the minutes a channel streams on a node in blocks, the full minutes of each node, the minutes
// full everywhere and the blocks where a channel streams on any node); whatever they answer must
// be what counting every minute answers, on random books.

#include <dvr/conflict.h>

#include <QRandomGenerator>
#include <QTest>

#include <algorithm>
#include <climits>
#include <utility>
#include <vector>

using namespace iptv::dvr;

namespace {

/// A count per minute in [Low, High): StepCount's meaning, spelt out.
class MinuteCount
{
public:
    static constexpr int Low = -40, High = 2000;
    void add(int from, int to, int delta)
    {
        for (int m = std::max(from, Low); m < std::min(to, High); ++m)
            m_value[size_t(m - Low)] += delta;
    }
    int at(int m) const { return m < Low || m >= High ? 0 : m_value[size_t(m - Low)]; }
    StepCount::Ranges zeros(int from, int to) const
    {
        StepCount::Ranges out;
        for (int m = from; m < to; ++m) {
            if (at(m) != 0)
                continue;
            if (!out.empty() && out.back().second == m)
                ++out.back().second;
            else
                out.append({m, m + 1});
        }
        return out;
    }

private:
    std::vector<int> m_value = std::vector<int>(size_t(High - Low), 0);
};

/// The book spelt out: per node, minute and channel, how many recordings are placed.
class Model
{
public:
    Model(const CapacityOptions &options, int channels, qint64 origin)
        : m_channels(channels)
        , m_limit(options.channelStreamLimit)
        , m_origin(origin - origin % 60)
    {
        for (const RecorderNode &n : options.nodes)
            m_capacity.push_back(std::max(0, n.capacity));
        m_count.assign(m_capacity.size(), std::vector<int>(size_t(Minutes) * size_t(channels), 0));
    }
    static constexpr int Minutes = 5 * 24 * 60;

    int minuteFrom(qint64 t) const { return int(std::max<qint64>(0, (t - m_origin + 30) / 60)); }
    int minuteTo(qint64 from, qint64 to) const
    {
        const int end = int(std::max<qint64>(0, (to - m_origin + 30) / 60));
        return to > from ? std::max(end, minuteFrom(from) + 1) : end;
    }
    bool streams(int node, int channel, int m) const
    {
        return channel < m_channels && m >= 0 && m < Minutes && count(node, channel, m) > 0;
    }
    int load(int node, int m) const
    {
        int n = 0;
        for (int c = 0; c < m_channels; ++c)
            n += streams(node, c, m) ? 1 : 0;
        return n;
    }
    bool freeAt(int node, int channel, int m) const
    {
        if (load(node, m) >= m_capacity[size_t(node)])
            return false;
        if (m_limit <= 0)
            return true;
        int others = 0;
        for (int i = 0; i < int(m_capacity.size()); ++i)
            others += i != node && streams(i, channel, m) ? 1 : 0;
        return others + 1 <= m_limit;
    }
    bool fits(int node, int channel, qint64 from, qint64 to, bool archived) const
    {
        if (archived)
            return true;
        for (int m = minuteFrom(from); m < minuteTo(from, to); ++m)
            if (!streams(node, channel, m) && !freeAt(node, channel, m))
                return false;
        return true;
    }
    int choose(int channel, qint64 from, qint64 to, bool archived) const
    {
        if (archived)
            return m_capacity.empty() ? -1 : 0;
        const int a = minuteFrom(from), b = minuteTo(from, to);
        int best = -1, bestShared = -1, bestFree = 0;
        for (int i = 0; i < int(m_capacity.size()); ++i) {
            if (!fits(i, channel, from, to, false))
                continue;
            int shared = b - a, peak = 0;
            for (int m = a; m < b; ++m) {
                if (streams(i, channel, m))
                    continue;
                --shared;
                peak = std::max(peak, load(i, m));
            }
            const int free = m_capacity[size_t(i)] - peak;
            if (best < 0 || shared > bestShared || (shared == bestShared && free > bestFree)) {
                best = i;
                bestShared = shared;
                bestFree = free;
            }
        }
        return best;
    }
    /// CapacityBook::mayFitWithout on a node with capacity: every full minute the recording
    /// needs a stream in on `id`'s node lies in `id`'s span.
    bool mayFitWithout(int id, int channel, qint64 from, qint64 to) const
    {
        if (id < 0 || id >= int(m_placed.size()) || m_placed[size_t(id)].node < 0)
            return false;
        const Placed &p = m_placed[size_t(id)];
        if (p.archived || p.channel == channel)
            return true;
        for (int m = minuteFrom(from); m < minuteTo(from, to); ++m)
            if (!streams(p.node, channel, m) && load(p.node, m) >= m_capacity[size_t(p.node)]
                && (m < p.from || m >= p.to))
                return false;
        return true;
    }
    void place(int id, int node, int channel, qint64 from, qint64 to, bool archived)
    {
        if (id >= int(m_placed.size()))
            m_placed.resize(size_t(id) + 1);
        m_placed[size_t(id)] = {node, channel, minuteFrom(from), minuteTo(from, to), archived};
        if (!archived)
            change(m_placed[size_t(id)], 1);
    }
    void unplace(int id)
    {
        if (id < 0 || id >= int(m_placed.size()) || m_placed[size_t(id)].node < 0)
            return;
        if (!m_placed[size_t(id)].archived)
            change(m_placed[size_t(id)], -1);
        m_placed[size_t(id)] = {};
    }
    void rename(int from, int to)
    {
        if (to >= int(m_placed.size()))
            m_placed.resize(size_t(to) + 1);
        m_placed[size_t(to)] = std::exchange(m_placed[size_t(from)], {});
    }
    int capacity(int node) const { return m_capacity[size_t(node)]; }
    int nodeOf(int id) const { return id >= 0 && id < int(m_placed.size()) ? m_placed[size_t(id)].node : -1; }
    void addChannels(int channels)
    {
        for (std::vector<int> &counts : m_count) {
            std::vector<int> wider(size_t(Minutes) * size_t(channels), 0);
            for (int m = 0; m < Minutes; ++m)
                std::copy_n(counts.begin() + qsizetype(m) * m_channels, m_channels,
                            wider.begin() + qsizetype(m) * channels);
            counts = std::move(wider);
        }
        m_channels = channels;
    }

private:
    struct Placed
    {
        int node = -1, channel = -1, from = 0, to = 0;
        bool archived = false;
    };
    int count(int node, int channel, int m) const
    {
        return m_count[size_t(node)][size_t(m) * size_t(m_channels) + size_t(channel)];
    }
    void change(const Placed &p, int delta)
    {
        for (int m = p.from; m < std::min(p.to, int(Minutes)); ++m)
            m_count[size_t(p.node)][size_t(m) * size_t(m_channels) + size_t(p.channel)] += delta;
    }

    std::vector<int> m_capacity;
    std::vector<std::vector<int>> m_count; ///< per node: [minute * channels + channel]
    std::vector<Placed> m_placed;
    int m_channels = 0;
    int m_limit = 0;
    qint64 m_origin = 0;
};

constexpr qint64 kOrigin = 1'800'000'000 - 1'800'000'000 % 60 + 17 * 60;

} // namespace

class TestDvrCapacity : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    /// StepCount's blocks (where the count is not 0) answer zeros() and isZero() as the steps
    /// do: counts going up and down over random ranges, some starting before minute 0, some
    /// negative on the way, blocks emptied again.
    void stepCountEqualsMinuteCount()
    {
        QRandomGenerator rng(11);
        for (int round = 0; round < 40; ++round) {
            StepCount steps;
            MinuteCount minutes;
            struct Added
            {
                int from, to, delta;
            };
            std::vector<Added> added;
            const int span = round % 2 ? 120 : 1500;
            for (int op = 0; op < 120; ++op) {
                if (!added.empty() && rng.bounded(3) == 0) {
                    // Take one away again: the count there goes back, blocks may empty.
                    const auto at = added.begin() + rng.bounded(int(added.size()));
                    steps.add(at->from, at->to, -at->delta);
                    minutes.add(at->from, at->to, -at->delta);
                    added.erase(at);
                } else {
                    const int from = rng.bounded(span + 40) - 40;
                    const int to = from + rng.bounded(1, 200);
                    const int delta = rng.bounded(5) == 0 ? -1 : 1 + rng.bounded(2);
                    steps.add(from, to, delta);
                    minutes.add(from, to, delta);
                    added.push_back({from, to, delta});
                }
                for (int q = 0; q < 20; ++q) {
                    const int from = rng.bounded(span + 300) - 40;
                    const int to = from + rng.bounded(1, 300);
                    QCOMPARE(steps.zeros(from, to), minutes.zeros(from, to));
                    QCOMPARE(steps.isZero(from, to), minutes.zeros(from, to) == StepCount::Ranges({{from, to}}));
                    if (steps.surelyZero(from, to))
                        QVERIFY(minutes.zeros(from, to) == StepCount::Ranges({{from, to}}));
                }
            }
            for (const Added &a : added)
                steps.add(a.from, a.to, -a.delta);
            QVERIFY(steps.isEmpty());
            QVERIFY(steps.surelyZero(0, span + 300)); // every block empty again
        }
        // A range in one block where the count is 0 while the block is not: the steps decide.
        StepCount one;
        one.add(3, 5, 1);
        QVERIFY(!one.surelyZero(6, 10));
        QVERIFY(one.isZero(6, 10));
        QCOMPARE(one.zeros(0, 10), StepCount::Ranges({{0, 3}, {5, 10}}));
    }

    /// A channel the book has no row for (made with fewer channels, addChannels() not called
    /// since): with a stream limit per channel, a fit check counted the nodes streaming it from a
    /// row past the end of every node's table, and place() wrote there. Such a channel is streamed
    /// nowhere until it is placed; placed, it counts against the limit as any other does.
    void channelWithoutARow()
    {
        CapacityOptions options;
        options.nodes = {{QStringLiteral("a"), 2}, {QStringLiteral("b"), 2}};
        options.channelStreamLimit = 1;
        CapacityBook book(options, 1, kOrigin);
        const qint64 from = kOrigin + 600, to = from + 3600;
        book.place(0, 0, 0, from, to, false);
        const int unknown = 4096;
        for (const int channel : {1, unknown}) {
            QVERIFY(book.fits(0, channel, from, to, false));
            QVERIFY(book.fits(1, channel, from, to, false));
            QCOMPARE(book.choose(channel, from, to, false), 1); // b has more streams free
        }
        // On node a: node b may not pull it as well (the limit); a shares its stream.
        book.place(1, 0, unknown, from, to, false);
        QVERIFY(book.fits(0, unknown, from, to, false));
        QVERIFY(!book.fits(1, unknown, from, to, false));
        QCOMPARE(book.choose(unknown, from, to, false), 0);
        QCOMPARE(book.choose(1, from, to, false), 1); // a is full
        book.unplace(1);
        QVERIFY(book.fits(1, unknown, from, to, false));
        QVERIFY(book.fitsSomewhere(1, from, to, false));
    }

    /// Random books (nodes of 0 to 3 streams, with and without a stream limit per channel,
    /// archived channels, channels added on the way) filled, emptied and renamed in: choose(),
    /// fits(), fitsSomewhere() and mayFitWithout() answer as counting every minute does.
    void bookEqualsBruteForce()
    {
        QRandomGenerator rng(23);
        int checked = 0, fitting = 0, chosenOther = 0;
        for (int round = 0; round < 24; ++round) {
            CapacityOptions options;
            options.nodes.clear();
            const int nodes = 1 + rng.bounded(4);
            for (int i = 0; i < nodes; ++i)
                options.nodes.append({QStringLiteral("n%1").arg(i), round % 6 == 5 && i == 0 ? 0 : 1 + rng.bounded(3)});
            options.channelStreamLimit = round % 3 == 2 ? 1 + rng.bounded(2) : 0;
            int channels = 10 + rng.bounded(12); // more than the streams: nodes fill
            const int archivedChannel = 0; // recorded anyway: costs nothing
            CapacityBook book(options, channels, kOrigin);
            Model model(options, channels, kOrigin);
            std::vector<int> placed;
            int nextId = 0;
            // A short window fills the nodes (conflicts), a long one leaves them mostly free.
            const int minutes = round % 2 ? 300 : Model::Minutes - 400;
            auto randomTime = [&](int lastMinute) {
                return kOrigin + qint64(rng.bounded(lastMinute)) * 60 + qint64(rng.bounded(3)) * 20 - 20;
            };
            auto check = [&] {
                for (int q = 0; q < 30; ++q) {
                    const int channel = rng.bounded(channels);
                    const bool archived = channel == archivedChannel;
                    const qint64 from = randomTime(minutes);
                    const qint64 to = q == 0 ? from - 60 * rng.bounded(3) : from + 60 * (1 + rng.bounded(240)) + rng.bounded(60);
                    const int chosen = book.choose(channel, from, to, archived);
                    QCOMPARE(chosen, model.choose(channel, from, to, archived));
                    QCOMPARE(book.fitsSomewhere(channel, from, to, archived), chosen >= 0);
                    for (int node = 0; node < nodes; ++node)
                        QCOMPARE(book.fits(node, channel, from, to, archived), model.fits(node, channel, from, to, archived));
                    if (!placed.empty()) {
                        const int id = placed[size_t(rng.bounded(int(placed.size())))];
                        if (model.capacity(model.nodeOf(id)) > 0)
                            QCOMPARE(book.mayFitWithout(id, channel, from, to), model.mayFitWithout(id, channel, from, to));
                    }
                    ++checked;
                    fitting += chosen >= 0 ? 1 : 0;
                    chosenOther += chosen > 0 ? 1 : 0;
                }
            };
            for (int op = 0; op < 260; ++op) {
                const int what = rng.bounded(10);
                if (what < (round % 2 ? 8 : 6) || placed.empty()) {
                    // Mostly where choose() puts it; now and then on a node of the test's choice,
                    // full or not (a plan's book only holds what fitted, but the book keeps count
                    // of whatever is placed).
                    const int channel = rng.bounded(channels);
                    const bool archived = channel == archivedChannel;
                    const qint64 from = randomTime(minutes);
                    const qint64 to = from + 60 * (5 + rng.bounded(180));
                    int node = book.choose(channel, from, to, archived);
                    if (rng.bounded(8) == 0)
                        node = rng.bounded(nodes);
                    if (node < 0)
                        continue;
                    book.place(nextId, node, channel, from, to, archived);
                    model.place(nextId, node, channel, from, to, archived);
                    placed.push_back(nextId++);
                } else if (what < 9 || round % 2) {
                    const auto at = placed.begin() + rng.bounded(int(placed.size()));
                    book.unplace(*at);
                    model.unplace(*at);
                    placed.erase(at);
                } else {
                    // The placement under a new id, as a re-grouped rule's kept recording.
                    int &id = placed[size_t(rng.bounded(int(placed.size())))];
                    book.rename(id, nextId);
                    model.rename(id, nextId);
                    id = nextId++;
                }
                if (op == 130) {
                    channels += 3;
                    book.addChannels(channels);
                    model.addChannels(channels);
                }
                if (op % 10 == 9)
                    check();
            }
            // Emptied, every node has all its streams again everywhere.
            for (const int id : placed) {
                book.unplace(id);
                model.unplace(id);
            }
            check();
        }
        // The random books were full in places and free in others, and other nodes than the
        // first were chosen: both answers and the preference among nodes were compared.
        qDebug() << checked << "questions," << fitting << "fitting," << chosenOther << "on another node than the first";
        QVERIFY(fitting > checked / 5);
        QVERIFY(fitting < checked * 4 / 5);
        QVERIFY(chosenOther > checked / 20);
    }

    /// overlapping()'s reach (what its answer read: the nodes before reach.node, and reach.node
    /// before reach.until): on random books, placements made, taken away or renamed where the
    /// answer did not read leave it as it was, which is what lets a repair keep a conflict's
    /// recordings in the way without asking the book again (DirtyMinutes::anyWithin in the
    /// scheduler). Answers that found `limit` streams stop early, often before the range's end.
    void overlappingReachBoundsWhatItRead()
    {
        QRandomGenerator rng(29);
        int answers = 0, stoppedEarly = 0, beforeTheEnd = 0, onALaterNode = 0, changesOutside = 0;
        for (int round = 0; round < 30; ++round) {
            CapacityOptions options;
            options.nodes.clear();
            const int nodes = 2 + rng.bounded(3);
            for (int i = 0; i < nodes; ++i)
                options.nodes.append({QStringLiteral("n%1").arg(i), 3 + rng.bounded(4)});
            const int channels = 24;
            CapacityBook book(options, channels, kOrigin);
            struct Placed
            {
                int id, node;
                qint64 from, to;
            };
            std::vector<Placed> placed;
            int nextId = 0;
            auto randomSpan = [&] {
                const qint64 from = kOrigin + qint64(rng.bounded(1800)) * 60 + qint64(rng.bounded(3)) * 20 - 20;
                return std::pair{from, from + 60 * (10 + rng.bounded(240)) + rng.bounded(60)};
            };
            auto placeOne = [&](int node, int channel, qint64 from, qint64 to) {
                book.place(nextId, node, channel, from, to, false);
                placed.push_back({nextId++, node, from, to});
            };
            for (int i = 0, n = 20 + rng.bounded(130); i < n; ++i) {
                const auto [from, to] = randomSpan();
                placeOne(rng.bounded(nodes), rng.bounded(channels), from, to); // full or not: the book counts
            }
            std::vector<int> reused{-1, -2, -3}; // as a caller's list holds the last answer
            for (int q = 0; q < 40; ++q) {
                const int channel = rng.bounded(channels);
                const auto [from, to] = randomSpan();
                const int limit = 1 + rng.bounded(6);
                CapacityBook::Reach reach;
                const std::vector<int> answer = book.overlapping(from, to, channel, limit, reach);
                QCOMPARE(answer, book.overlapping(from, to, channel, limit));
                // Into a list reused from the last question: the same answer and reach.
                CapacityBook::Reach again;
                book.overlapping(from, to, channel, limit, again, reused);
                QCOMPARE(reused, answer);
                QCOMPARE(again.node, reach.node);
                QCOMPARE(again.until, reach.until);
                ++answers;
                if (reach.node == INT_MAX) {
                    QVERIFY(int(answer.size()) < limit);
                    continue;
                }
                QCOMPARE(int(answer.size()), limit);
                QVERIFY(reach.node >= 0 && reach.node < nodes);
                const auto [x, y] = book.epochMinutes(from, to);
                QVERIFY(reach.until > x && reach.until <= y);
                ++stoppedEarly;
                beforeTheEnd += reach.until < y ? 1 : 0;
                onALaterNode += reach.node + 1 < nodes ? 1 : 0;
                // Whether a placement on `node` over [f, t) is where the answer did not read.
                auto outside = [&](int node, qint64 f, qint64 t) {
                    if (node > reach.node)
                        return true;
                    const auto [px, py] = book.epochMinutes(f, t);
                    const int end = node < reach.node ? y : reach.until;
                    return px >= py || py <= x || px >= end;
                };
                for (int c = 0; c < 12; ++c) {
                    const int what = rng.bounded(3);
                    if (what == 0) {
                        const int node = rng.bounded(nodes);
                        const auto [f, t] = randomSpan();
                        if (!outside(node, f, t))
                            continue;
                        placeOne(node, rng.bounded(channels), f, t);
                    } else {
                        const size_t at = size_t(rng.bounded(int(placed.size())));
                        const Placed p = placed[at];
                        if (!outside(p.node, p.from, p.to))
                            continue;
                        if (what == 1) {
                            book.unplace(p.id);
                            placed.erase(placed.begin() + qsizetype(at));
                        } else {
                            book.rename(p.id, nextId); // a new id: maybe another place in its hours' lists
                            placed[at].id = nextId++;
                        }
                    }
                    ++changesOutside;
                    QCOMPARE(book.overlapping(from, to, channel, limit), answer);
                }
            }
        }
        qDebug() << answers << "answers," << stoppedEarly << "stopped early," << beforeTheEnd << "before the range's end,"
                 << onALaterNode << "before the last node;" << changesOutside << "changes where they did not read";
        QVERIFY(stoppedEarly > answers / 4);
        QVERIFY(beforeTheEnd > stoppedEarly / 4);
        QVERIFY(onALaterNode > stoppedEarly / 4);
        QVERIFY(changesOutside > answers);
    }
};

QTEST_GUILESS_MAIN(TestDvrCapacity)
#include "tst_dvrcapacity.moc"
