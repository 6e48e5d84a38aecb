#pragma once

// The compact box guide (docs/guide-format.md): reading side.
//
// A Guide is opened once from a file or bytes; it keeps the decompressed body and answers every
// query from it without copying strings until a caller asks for a QString. Descriptions, the bulk
// of the text, are kept compressed in blocks once the search index has read them. It is immutable
// after open and safe to share between threads.

#include "guidelimits.h"
#include "programme.h"

#include <QByteArray>
#include <QList>
#include <QString>
#include <QStringView>
#include <QVarLengthArray>
#include <QtGlobal>

#include <memory>
#include <span>

namespace iptv::epg {

class SearchIndex;

/// Schedule flag bits of one airing.
enum AiringFlag : quint8 {
    FlagNew = 1 << 0,
    FlagPremiere = 1 << 1,
    FlagPreviouslyShown = 1 << 2,
    FlagLastChance = 1 << 3,
    FlagHasSubtitles = 1 << 4,
};

struct GuideInfo
{
    quint16 formatVersion = 0;
    qint64 validFrom = 0;    ///< UTC seconds, window start
    qint64 validUntil = 0;   ///< UTC seconds, window end (exclusive)
    qint64 createdAt = 0;    ///< UTC seconds
    quint32 channelCount = 0;
    quint32 airingCount = 0;
    quint32 programmeCount = 0; ///< distinct programme metadata records
    quint32 stringCount = 0;
    quint64 fileSize = 0;
    quint64 bodySize = 0;       ///< decompressed
    QByteArray checksum;        ///< BLAKE2b-256 of the compressed body, hex; also the HTTP ETag
    QString generator;
};

/// One airing in the schedule: where, when, what.
struct Airing
{
    quint32 index = 0;     ///< position in the guide's airing table
    quint32 channel = 0;   ///< channel index
    qint64 start = 0;      ///< UTC seconds
    qint64 stop = 0;
    quint32 programme = 0; ///< metadata record id
    quint8 flags = 0;      ///< AiringFlag bits
    bool isValid() const { return stop > start; }
};

class Guide
{
public:
    ~Guide();

    /// Opens a guide file. On failure returns nullptr and sets *error to what, where and why.
    /// A guide whose header claims sizes beyond `limits` is refused before anything is read or
    /// allocated for it.
    static std::shared_ptr<const Guide> open(const QString &path, QString *error = nullptr, const GuideLimits &limits = {});
    /// Opens a guide from its file bytes (e.g. a download kept in memory).
    static std::shared_ptr<const Guide> fromBytes(const QByteArray &fileBytes, QString *error = nullptr,
                                                  const QString &sourceName = {}, const GuideLimits &limits = {});
    /// Reads only the header, cheaply (no decompression, no checksum).
    static bool readInfo(const QString &path, GuideInfo *info, QString *error = nullptr);

    const GuideInfo &info() const;

    // ---- channels ----
    int channelCount() const;
    QString channelId(int channel) const;
    QString channelName(int channel) const;
    QString channelIcon(int channel) const;
    int channelNumber(int channel) const;   ///< 0 when the lineup gave none
    QString channelGroup(int channel) const;
    QString channelStreamUrl(int channel) const;
    int channelIndex(QStringView id) const; ///< -1 when unknown
    Channel channelRecord(int channel) const; ///< every field, for export

    // ---- schedule ----
    quint32 airingCount() const;
    Airing airing(quint32 index) const;
    /// airing(index) of an airing known to be on `channel`, without searching for its channel
    /// (the DVR scheduler reads every airing a rule matches, and knows their channels).
    Airing airingOn(int channel, quint32 index) const;
    /// airing(index).programme, without searching for the channel.
    quint32 airingProgramme(quint32 index) const;
    /// Airings of one channel, by start time: [first, first+count) of the airing table.
    std::pair<quint32, quint32> channelAirings(int channel) const;
    /// The airing on `channel` at time t, or an invalid Airing.
    Airing airingAt(int channel, qint64 t) const;
    /// Now and next on a channel at t (either may be invalid).
    std::pair<Airing, Airing> nowNext(int channel, qint64 t) const;
    /// Airings overlapping [from, to) for channels [firstChannel, firstChannel+channelCount),
    /// channel by channel, each by start. Appends to *out (cleared first) to let callers reuse it.
    void window(int firstChannel, int channelCount, qint64 from, qint64 to, QList<Airing> *out) const;

    // ---- programme metadata ----
    quint32 programmeCount() const;
    QString title(quint32 programme) const;
    QString subTitle(quint32 programme) const;
    QString description(quint32 programme) const;
    QString category(quint32 programme) const;   ///< first category, "" when none
    QString episode(quint32 programme) const;    ///< onscreen form (S1 E4) when known
    /// Every metadata field of a programme plus the airing's own facts, as ingested.
    Programme programmeRecord(const Airing &airing) const;
    /// The interned string ids (see string()) of what identifies a programme: its first title,
    /// sub-title and description and its episode numbers as (system, value). One walk of the
    /// record and no QString, for code that keys every programme of a guide (the DVR scheduler).
    struct ProgrammeStrings
    {
        quint32 title = 0, subTitle = 0, description = 0; ///< 0: none (string 0 is "")
        /// (system, value) string ids; inline: the DVR scheduler reads this for every programme.
        QVarLengthArray<std::pair<quint32, quint32>, 4> episodeNums;
    };
    ProgrammeStrings programmeStrings(quint32 programme) const;
    /// A 64-bit hash of programmeStrings() by content (the texts, not their ids): equal in two
    /// guide versions when the programme's title, sub-title, description and episode numbers are.
    /// Made at open, while the descriptions are plain, so reading it reads no description.
    quint64 programmeDigest(quint32 programme) const;
    /// A 64-bit hash of what a channel airs: every airing's start, stop and flags and its
    /// programme's digest. Equal in two guide versions when the channel's schedule and those texts
    /// are (channel and programme numbers may differ): what did not change is found without
    /// reading a programme.
    quint64 channelDigest(int channel) const;

    // ---- search (see search.h) ----
    const SearchIndex &searchIndex() const;

    // ---- raw access for the search index and tools ----
    /// UTF-8 bytes of an interned string. A description's view comes from a block this thread
    /// decompressed and lasts until it has read four other blocks: use it or copy it at once.
    QByteArrayView string(quint32 id) const;
    quint32 stringCount() const;

    struct Private;
private:
    friend class SearchIndex;
    explicit Guide(std::unique_ptr<Private> d);
    std::unique_ptr<Private> d;
};

} // namespace iptv::epg
