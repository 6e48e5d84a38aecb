#pragma once

// What diver has recorded and for whom (QtSql: SQLite by default, PostgreSQL for a
// postgresql:// URI, the same SQL for both), next to the rule store's tables in one database:
//   dvr_copies      one stored copy of an airing on a channel that is not archived: where it
//                   lives, its state, what was written. However many viewers recorded the airing,
//                   there is one copy. Its end (record_stop) moves until the node recording it
//                   stops there and seals it (end_sealed, added to an older table at open).
//   dvr_recordings  one viewer's recording: the airing, the time range recorded (with padding),
//                   the copy it is in (none on an archived channel: a range of the archive), kept
//                   or not, the resume position, when the viewer stopped it (column `stopped`,
//                   added to an older table at open), until when it is kept (column `keep_until`,
//                   added to an older table at open; 0: until the viewer deletes it), and where
//                   its span of the copy ended when its playlist ended (`span_end`, likewise).
// Several diver nodes may share one PostgreSQL database: a copy and a viewer's recording are made
// idempotently by their unique keys, so nodes planning the same airing make one of each.
// A RecordingStore is one connection, used from the thread that opened it.

#include <QList>
#include <QString>
#include <QStringList>

#include <functional>

#include <initializer_list>
#include <optional>

namespace iptv::diver {

enum class CopyState : quint8 { Recording, Finished, Failed };
QString copyStateName(CopyState state);

struct CopyRow
{
    qint64 id = 0;
    QString channelId;
    qint64 airingStart = 0;   ///< UTC seconds
    qint64 recordStart = 0;   ///< UTC seconds, with the widest padding of its viewers
    qint64 recordStop = 0;
    QString node;
    QString directory;
    CopyState state = CopyState::Recording;
    QString reason;           ///< why it failed, or what happened on the way (gaps)
    qint64 segments = 0;
    qint64 bytes = 0;
    qint64 gaps = 0;
};

/// What RecordingStore::deleteRecording() removed.
struct RecordingDeletion
{
    bool removed = false;          ///< the recording's row was there (false: deleted already)
    /// Asked to delete it only as it was (RecordingStore::Unchanged) and it was not: nothing
    /// deleted (a viewer kept it, or moved its keep-until, on another node meanwhile).
    bool changed = false;
    /// Its copy, removed with it as its last recording (as the row was: its folder is the
    /// caller's to remove); none while another recording is in it.
    std::optional<CopyRow> copy;
};

struct RecordingRow
{
    qint64 id = 0;
    QString owner;
    qint64 ruleId = 0;
    QString channelId;
    QString title;
    qint64 airingStart = 0, airingStop = 0;  ///< UTC seconds
    qint64 recordStart = 0, recordStop = 0;
    qint64 copyId = 0;        ///< 0: a range of the channel's archive
    bool kept = false;        ///< protected from keep-N and free-space retention
    qint64 positionSeconds = 0; ///< where the viewer stopped watching
    qint64 created = 0;
    bool deleted = false;     ///< the viewer deleted it (the row stays until its copy goes)
    /// When the viewer stopped it while it recorded (UTC seconds; 0: not stopped): it ends then
    /// (recordStop), finished, whatever the copy goes on recording for others.
    qint64 stopped = 0;
    /// Retention expires it then (UTC seconds; 0: kept until the viewer deletes it). Applies
    /// whether `kept` or not: `kept` protects from keep-N and free-space retention only.
    qint64 keepUntil = 0;
    /// Where the viewer's span of its copy ends once its playlist has ended (said EXT-X-ENDLIST):
    /// the segments of sequence below it (-1: not ended, the span follows the copy). A copy
    /// recorded again later (another viewer, a later end) grows no playlist that ended.
    qint64 spanEnd = -1;
};

/// A list's cursor as clients hold it: `prefix` (the list and its order's version, "r1.") and the
/// base64url of the values of the last row's place, joined by ':'. Opaque to clients.
QString pageCursorText(QLatin1StringView prefix, std::initializer_list<qint64> values);
/// The `count` values of a cursor pageCursorText() made with `prefix` (the last, an id, > 0);
/// nullopt with *why saying what is wrong with `text` otherwise.
std::optional<QList<qint64>> pageCursorValues(const QString &text, QLatin1StringView prefix, qsizetype count, QString *why);

/// A place in the library's order (the latest airing first, then the latest id): a page of
/// RecordingStore::recordingsPage() starts after it. Clients hold it as opaque text.
struct RecordingCursor
{
    qint64 airingStart = 0;
    qint64 id = 0;

    /// "r1.<base64url of start:id>": opaque to clients, versioned for a later order.
    QString toText() const;
    /// The cursor `text` names; nullopt with *why when it is not one toText() made.
    static std::optional<RecordingCursor> fromText(const QString &text, QString *why);
    friend bool operator==(const RecordingCursor &, const RecordingCursor &) = default;
};

/// The planner's lease as the node making copies holds it (docs/dvr-scheduler.md, "Several nodes:
/// one planner"): a copy made from its plan is inserted only while the lease table says so.
struct PlannerFence
{
    QString leaseId;  ///< the planner's row in dvr_leases ("planner")
    QString node;     ///< this node
    qint64 epoch = 0; ///< the epoch this node was given when it claimed the lease
    qint64 nowMs = 0; ///< this node's clock (UTC ms): the lease must not have expired by then
};

/// A viewer's recording in a copy that records now: what a planner taking over keeps where it
/// records (RecordingStore::openCopyRecordings).
struct OpenCopyRecording
{
    qint64 recordingId = 0;
    QString owner;
    qint64 ruleId = 0;
    QString channelId;
    qint64 airingStart = 0; ///< UTC seconds
    qint64 copyId = 0;
    QString node; ///< the node holding the copy's lease (empty: none holds it now)
};

class RecordingStore
{
public:
    RecordingStore();
    ~RecordingStore();

    bool open(const QString &location, QString *error);
    /// The cluster's secret `name` (32 random bytes, made by the first node that asks, then
    /// the same for every node of the database).
    std::optional<QByteArray> sharedSecret(const QString &name, QString *error);
    void close();

    std::optional<qint64> insertCopy(const CopyRow &copy, QString *error);
    /// The copy of `copy`'s airing (channel, start): inserted when there is none, else the one
    /// stored (made by another node planning the same airing); one transaction. `directoryOf`,
    /// when set, names the folder of a copy this call inserts from its new id (every copy has
    /// a folder of its own: a copy made again for an airing whose copy was just deleted never
    /// shares the deleted one's); unset, `copy.directory` is stored.
    /// `fence`, when set: the insert is made only while `fence->node` holds the planner's lease
    /// with `fence->epoch`, not expired at `fence->nowMs`, checked in the same transaction (its
    /// row held FOR SHARE on PostgreSQL, so a claim by another node waits for the commit);
    /// otherwise nothing is inserted, nullopt, *error says "not the planner (epoch N)" and
    /// *fenced is set (not retried: the caller is no longer the planner).
    std::optional<CopyRow> ensureCopy(const CopyRow &copy, QString *error,
                                      const std::function<QString(qint64 id)> &directoryOf = {},
                                      const PlannerFence *fence = nullptr, bool *fenced = nullptr);
    /// Writes what the recording node owns: state, reason, node, folder, segments, bytes, gaps.
    /// Never the end (record_stop), which other nodes move meanwhile: see the two below.
    /// Only while the row names `copy.node` (or no node): a node whose write was held back (the
    /// database away) while another node took the copy over does not overwrite the new holder's
    /// row. `claim` (a node that has just claimed the copy's lease) writes whoever it named.
    /// True when written or when there was nothing to write (*written false: the copy is gone or
    /// another node's); false with *error when the database fails.
    bool updateCopy(const CopyRow &copy, QString *error, bool claim = false, bool *written = nullptr);
    /// Moves a copy's end later (a viewer's longer padding, a programme running on), never
    /// earlier; one conditional UPDATE, so it cannot undo another node's move, nor move an end
    /// its recorder stopped at (sealCopyEnd). The end stored after it (0: no such copy).
    std::optional<qint64> extendCopyEnd(qint64 id, qint64 recordStop, QString *error);
    /// Moves a copy's end earlier (no viewer needs more of it): the one way it ever shrinks; one
    /// conditional UPDATE as above. The end stored after it (0: no such copy).
    std::optional<qint64> endCopyAt(qint64 id, qint64 recordStop, QString *error);
    /// A finished or failed copy recorded again (a viewer asked for its airing while it is still
    /// on): back to recording, its end made at least `recordStop`, in one conditional UPDATE.
    /// The row after it (nullopt with *error; with nothing changed when it was recording already,
    /// another node having reopened it first).
    std::optional<CopyRow> reopenCopy(qint64 id, qint64 recordStop, QString *error);
    /// The node recording a copy reached its end `recordStop` (UTC s): seals the end there, one
    /// conditional UPDATE (the end stored is not later), after which neither extendCopyEnd() nor
    /// endCopyAt() moves it. An end another node moved later a moment before (the recording node
    /// had not heard yet) is not sealed: the answer says so, with that end, and the recording
    /// goes on to it. No such copy: sealed, end 0.
    struct SealedEnd
    {
        bool sealed = false;
        qint64 recordStop = 0; ///< the end stored
    };
    std::optional<SealedEnd> sealCopyEnd(qint64 id, qint64 recordStop, QString *error);
    bool removeCopy(qint64 id, QString *error);
    std::optional<CopyRow> copy(qint64 id, QString *error);
    /// The copy of the airing at (channel, start), if there is one.
    std::optional<CopyRow> copyOf(const QString &channelId, qint64 airingStart, QString *error);
    std::optional<QList<CopyRow>> copies(QString *error, std::optional<CopyState> state = std::nullopt);
    /// The copies of `owner`'s recordings (not deleted): a box's library without reading every copy.
    std::optional<QList<CopyRow>> copiesOfOwner(const QString &owner, QString *error);
    /// The viewers' recordings (not deleted, not stopped) in copies recording now, with the node
    /// holding each copy's lease: the airings a planner taking over must keep where they record
    /// (their episodes join the history only when the copy finishes).
    std::optional<QList<OpenCopyRecording>> openCopyRecordings(QString *error);
    /// The copies with these ids (those that are there): a page of the library's.
    std::optional<QList<CopyRow>> copiesWithIds(const QList<qint64> &ids, QString *error);

    /// The new row's id; 0 when the viewer's recording of that airing is there already (another
    /// node made it at the same moment). A recording in a copy joins it only while the copy is
    /// there: it holds the copy's row (FOR KEY SHARE) until the row is in, so a node deleting the
    /// copy's last recording meanwhile (deleteRecording) either waits and sees it, or has deleted
    /// the copy first: then nullopt, *copyGone set and nothing inserted (the copy is made again).
    std::optional<qint64> insertRecording(const RecordingRow &recording, QString *error, bool *copyGone = nullptr);
    // A recording's row changes column by column, each one statement, never written whole from
    // an earlier read: nodes change one row at once (a box's position on one, a stop or a longer
    // end on another), and a whole row would put back what the other changed.
    /// The viewer's resume position, "kept" and keep-until (each may be left as it is); a row
    /// that is gone is no error.
    bool setViewerState(qint64 id, std::optional<qint64> positionSeconds, std::optional<bool> kept, QString *error,
                        std::optional<qint64> keepUntil = std::nullopt);
    /// The viewer's stop: ends it at `at` (at its start, when that is later) and marks it stopped
    /// then, only when it is neither stopped already nor ended before `at`. true when this call
    /// stopped it; false (no error) when it was not: re-read the row.
    std::optional<bool> stopRecordingAt(qint64 id, qint64 at, QString *error);
    /// The guide moved the programme's end later: its airing and recorded end, only while the
    /// recording is not stopped and ends before `recordStop`. true when moved.
    std::optional<bool> extendRecordingEnd(qint64 id, qint64 airingStop, qint64 recordStop, QString *error);
    /// Ends a viewer's span of its copy at `spanEnd` (RecordingRow::spanEnd) unless it has ended
    /// already: one conditional UPDATE. The span end stored after it (-1: no such recording).
    std::optional<qint64> endRecordingSpan(qint64 id, qint64 spanEnd, QString *error);
    bool removeRecording(qint64 id, QString *error);
    /// Deletes a viewer's recording and, when it was the last recording of its copy, the copy's
    /// row, in one transaction that holds the copy's row (FOR UPDATE): a viewer joining the copy
    /// on another node at that moment (insertRecording) keeps it, or finds it gone, never a row
    /// in a copy deleted under it.
    std::optional<RecordingDeletion> deleteRecording(qint64 id, QString *error);
    /// What retention decided a recording's expiry on: deleteRecording() with it deletes the row
    /// only while it still is so, in the DELETE itself (a keep committed on another node between
    /// the sweep's reading and the delete wins: RecordingDeletion::changed).
    struct Unchanged
    {
        bool kept = false;
        qint64 keepUntil = 0;
        qint64 copyId = 0;
    };
    std::optional<RecordingDeletion> deleteRecording(qint64 id, const Unchanged &unchanged, QString *error);
    std::optional<RecordingRow> recording(qint64 id, QString *error);
    /// One owner's recordings (all when `owner` is empty), newest airing first; deleted ones only
    /// with `withDeleted`.
    std::optional<QList<RecordingRow>> recordings(QString *error, const QString &owner = {}, bool withDeleted = false);
    /// Up to `limit` of one owner's recordings (all owners' when `owner` is empty), not deleted,
    /// in the order of recordings(), those after `after` only (from the first when unset): a
    /// keyset page, by an index, so that a recording added or deleted between two pages moves no
    /// other across a page's edge (none skipped, none twice), and a page costs its own rows.
    std::optional<QList<RecordingRow>> recordingsPage(QString *error, const QString &owner, int limit,
                                                      const std::optional<RecordingCursor> &after);
    std::optional<QList<RecordingRow>> recordingsOfCopy(qint64 copyId, QString *error);
    /// The recording of this airing for `owner`, if it was made: by this rule, else by another of
    /// the owner's rules (a viewer has one recording of an airing, whichever rules ask for it).
    std::optional<RecordingRow> recordingOf(const QString &owner, qint64 ruleId, const QString &channelId, qint64 airingStart,
                                            QString *error);

private:
    std::optional<RecordingDeletion> deleteRow(qint64 id, const Unchanged *unchanged, QString *error); ///< (none: whatever it is)
    /// extendCopyEnd() (`later`) or endCopyAt(): the conditional UPDATE, then the end stored.
    std::optional<qint64> moveCopyEnd(qint64 id, qint64 recordStop, bool later, QString *error);

    /// Runs `body` in a transaction (BEGIN IMMEDIATE on SQLite: it writes), rolled back when it fails.
    template <typename Body>
    auto inTransaction(QString *error, Body body) -> decltype(body());

    QString m_connection;
    bool m_postgres = false;
};

} // namespace iptv::diver
