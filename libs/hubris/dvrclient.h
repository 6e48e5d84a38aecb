#pragma once

// The box's side of the network DVR (server/diver): the viewer records an airing or a series,
// sees the library and the upcoming plan with its conflicts, and plays recordings, catch-up and
// paused live TV from diver's archive. diver knows the box by the identity ticket the control
// server signs for it (BoxLink::requestTicket("diver")); the client asks for one when it has
// none and renews it before it expires. Every call is asynchronous (QNetworkAccessManager), and
// every failure ends as a sentence in `status` and errorOccurred(), never a frozen page.

#include "dvrmodels.h"
#include "guidestore.h"

#include <QDateTime>
#include <QHash>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QObject>
#include <QPointer>
#include <QSet>
#include <QTimer>
#include <QUrl>
#include <QtQml/qqmlregistration.h>

#include <algorithm>
#include <functional>
#include <optional>

namespace iptv::boxlink {
class BoxLink;
}

namespace iptv::hubris {

class DvrClient : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("one per box, made by the app")
    Q_PROPERTY(bool enabled READ isEnabled CONSTANT)
    Q_PROPERTY(bool ready READ isReady NOTIFY readyChanged)
    Q_PROPERTY(QString status READ status NOTIFY statusChanged)
    Q_PROPERTY(int revision READ revision NOTIFY marksChanged)
    Q_PROPERTY(iptv::hubris::DvrRecordingsModel *recordings READ recordings CONSTANT)
    Q_PROPERTY(iptv::hubris::DvrUpcomingModel *upcoming READ upcoming CONSTANT)
public:
    /// `server`: diver's base URL (http://host:8430); empty: no DVR on this box.
    DvrClient(GuideStore *store, const QUrl &server, QObject *parent = nullptr);
    ~DvrClient() override;

    /// Where tickets come from (the control link); null: the box is not linked, nothing works.
    void setTicketSource(boxlink::BoxLink *link);
    /// How long before its expiry a ticket is renewed.
    void setRenewBeforeSeconds(int seconds) { m_renewBefore = seconds; }
    /// In how many seconds the ticket is renewed (from its arrival; 0: no ticket yet).
    int renewIntervalSeconds() const { return m_renew.interval() / 1000; }

    bool isEnabled() const { return m_server.isValid() && !m_server.isEmpty(); }
    /// A ticket is at hand and diver answered the last call.
    bool isReady() const { return m_ready; }
    /// What the viewer is told about the DVR: "" when all is well, else why it does not work.
    QString status() const { return m_status; }
    int revision() const { return m_revision; }
    DvrRecordingsModel *recordings() { return &m_recordings; }
    DvrUpcomingModel *upcoming() { return &m_upcoming; }
    QUrl server() const { return m_server; }
    GuideStore *store() const { return m_store; }
    QByteArray ticket() const { return m_ticket; }
    /// Recordings asked for a page of the library (diver's most, 1,000, by default).
    void setLibraryPageSize(int recordings) { m_libraryPageSize = std::max(1, recordings); }
    /// Pages of the library read since this client was made (tests: a library of several pages).
    int libraryPagesRead() const { return m_libraryPagesRead; }

    /// Records airing `airing` (an index of the guide). recorded() or errorOccurred() follows.
    Q_INVOKABLE void recordAiring(int airing);
    /// Records every airing of this programme's title on its channel (a series rule).
    Q_INVOKABLE void recordSeries(int airing);
    /// Stops planning the rule that records `airing` (the recordings made stay).
    Q_INVOKABLE void cancelAiring(int airing);
    /// Stops planning rule `rule` (the upcoming list's red on a single recording); `message`,
    /// when given, goes to notice() once diver agreed.
    Q_INVOKABLE void cancelRule(qint64 rule, const QString &message = {});
    Q_INVOKABLE void deleteRecording(qint64 id);
    /// Stops recording `id` while it records and keeps what is recorded (its row says "finished").
    Q_INVOKABLE void stopRecording(qint64 id);
    /// Skips (`skip`) or records again one airing of rule `rule` (diver's "cancelled" airings).
    Q_INVOKABLE void skipAiring(qint64 rule, const QString &channel, qint64 start, bool skip);
    /// The same for airing `airing` (a guide index) of the series that plans it.
    Q_INVOKABLE void skipEpisode(int airing, bool skip);
    /// Row `row` of the upcoming list is left out (a conflict) and has an airing that fits
    /// elsewhere: records that one instead, then drops this one (its single rule is cancelled,
    /// or, of a series, this episode skipped). recorded() or errorOccurred() follows.
    Q_INVOKABLE void recordAlternative(int row);
    Q_INVOKABLE void setKept(qint64 id, bool kept);
    /// Keeps recording `id` (never deleted by keep-N or for space) for `days` from now, when
    /// retention deletes it (diver's keepUntil); 0: until the viewer deletes it.
    Q_INVOKABLE void keepFor(qint64 id, int days);
    /// The resume point of recording `id`, seconds from its start.
    Q_INVOKABLE void savePosition(qint64 id, qint64 seconds);
    /// Reloads the library, the plan and the archived channels.
    Q_INVOKABLE void refresh();

    /// "recording", "planned", "conflict" or "" for airing `airing`: the marks of the guide grid.
    Q_INVOKABLE QString markOf(int airing) const;
    /// Channel `channel` (a guide index) is archived: pause, rewind, watch from the start, catch-up.
    Q_INVOKABLE bool isArchived(int channel) const;
    /// Airing `airing` is planned by a rule that records more airings (a series): cancelling it
    /// cancels them all.
    Q_INVOKABLE bool isSeries(int airing) const;
    /// The viewer skipped airing `airing` of its series (it is not recorded; it can be again).
    Q_INVOKABLE bool isSkipped(int airing) const;
    /// Why airing `airing` (a guide index) is left out of the plan, in a few words ("" when it is
    /// planned or no rule wants it): what the details page says of a conflict.
    Q_INVOKABLE QString reasonOf(int airing) const;
    /// Rule `rule` records a series (its kind is not "single"), however many of its airings are
    /// to come: cancelling one airing of it skips that airing, never the rule.
    Q_INVOKABLE bool ruleIsSeries(qint64 rule) const;
    /// Where the archive of `channel` (a guide index) begins, UTC s (0: unknown or none).
    Q_INVOKABLE qint64 archiveStart(int channel) const;
    /// HLS of archived `channel` from `from` (UTC s) for `seconds`, or to the live edge (seconds 0),
    /// with the channel's playback token from diver (GET /api/status), which outlives the ticket.
    Q_INVOKABLE QUrl archiveUrl(int channel, qint64 from, qint64 seconds = 0) const;
    /// When the playback token of archiveUrl(channel) expires (UTC s; 0: none, the URL has the ticket).
    qint64 archiveTokenExpires(int channel) const;
    /// A recording's playlist from `offset` seconds on (diver's ?start=): diver's URL from the
    /// library, with the recording's playback token, so that a ticket's renewal never stops it.
    Q_INVOKABLE QUrl recordingUrl(qint64 id, qint64 offset = 0) const;
    /// A segment of a playlist: where its media begins (seconds of media from the playlist's
    /// first segment: its EXTINFs summed) and when it aired (EXT-X-PROGRAM-DATE-TIME, UTC ms).
    struct SegmentDate
    {
        double mediaSeconds = 0;
        qint64 wallMs = 0;
    };
    /// Where the playlist at `url` (a recordingUrl() or archiveUrl()) really starts: diver's
    /// X-Playlist-Start, seconds of the wall clock from where the URL counts (a recording's
    /// start; a range's start), the start of the segment a seek lands in. `done` gets nullopt
    /// when diver does not say (an error, no segment yet, a diver before it said so), and the
    /// dates of the playlist's segments (those it dates): the recording's timeline, which runs
    /// on across a hole in the dates (a source that stalled, a gap) while the media does not.
    void playlistStart(const QUrl &url, std::function<void(std::optional<double> seconds, QList<SegmentDate> dates)> done);
    /// The segment dates of an HLS media playlist (exposed for tests).
    static QList<SegmentDate> segmentDates(const QByteArray &playlist);
    /// What the viewer is told after asking to record `title`: `now` of the `planned` airings
    /// are recorded from now on (they are on), the others later; `skipped` will not be, the
    /// first for `reason`.
    static QString recordedMessage(const QString &title, int planned, int now, int skipped, const QString &reason);
    /// Why an airing diver left out (one of "skipped") is not recorded, for the viewer: a
    /// conflict names what is in the way and where the episode fits; else diver's detail.
    static QString skippedReason(const QJsonObject &skipped);
    /// How many hours of archive diver keeps.
    int archiveHours() const { return m_archiveHours; }

public Q_SLOTS:
    /// A ticket for diver (from the control link, or a test): used for every call until `expires`.
    void setTicket(const QByteArray &ticket, const QDateTime &expires);

Q_SIGNALS:
    void readyChanged();
    void statusChanged();
    void marksChanged();
    /// A recording or series rule was made: `planned` airings will be recorded (`now` of them
    /// are being recorded already: on now), `skipped` not; `message` says so to the viewer
    /// (recordedMessage()), an error when nothing will be recorded.
    void recorded(const QString &title, int planned, int skipped, const QString &firstReason, int now,
                  const QString &message, bool error);
    void errorOccurred(const QString &message);
    /// Something the viewer is told that is not an error (a recording or series cancelled).
    void notice(const QString &message);
    /// Something changed the library (delete, keep, position).
    void libraryChanged();

private:
    using Handler = std::function<void(int status, const QJsonObject &body)>;
    void call(const QByteArray &verb, const QString &path, const QJsonObject &body, Handler done);
    /// PUT /api/recordings/<id> with `change` (kept, position), then the library row from the answer.
    void changeRecording(qint64 id, const QJsonObject &change);
    void requestTicket();
    /// The library's page after `cursor` (empty: the first), added to `got`; the next one, or
    /// the whole made the library's rows. `fetch` is the refresh it is of: a later one drops it.
    void fetchLibraryPage(const QString &cursor, QList<DvrRecording> got, int fetch);
    /// GET /api/status: the archived channels, where their archives begin, their playback tokens.
    void refreshStatus();
    void setStatus(const QString &status);
    void setReady(bool ready);
    void fail(const QString &message);
    void postRule(const QJsonObject &rule, const QString &title);
    /// Replaces the library's row of the recording diver answered with.
    void updateRow(const QJsonObject &recording);
    QString titleAt(int airing) const;
    void updateMarks();
    QString airingKey(const QString &channel, qint64 start) const { return channel + u'|' + QString::number(start); }

    GuideStore *m_store;
    QUrl m_server;
    QNetworkAccessManager m_nam; ///< a child: a test follows its replies
    QPointer<boxlink::BoxLink> m_link;
    QByteArray m_ticket;
    QDateTime m_ticketExpires;
    QTimer m_renew;
    QTimer m_poll;
    QTimer m_tokenRefresh; ///< asks for fresh archive tokens at half their life (when the poll comes later)
    int m_renewBefore = 300;
    bool m_ready = false;
    bool m_ticketRequested = false;
    QString m_status;
    int m_revision = 0;
    DvrRecordingsModel m_recordings;
    DvrUpcomingModel m_upcoming;
    int m_libraryPageSize = 1000;
    int m_libraryFetch = 0;     ///< refreshes of the library begun
    int m_libraryPagesRead = 0;
    QHash<QString, QString> m_marks; ///< "channel|start" -> recording, planned, conflict
    QHash<QString, qint64> m_ruleOf;  ///< "channel|start" -> the rule that plans it
    QSet<QString> m_skipped;          ///< "channel|start" the viewer skipped
    QSet<QString> m_archived;
    QHash<QString, qint64> m_archiveFrom; ///< channel id: its archive's first second
    QHash<QString, QByteArray> m_archiveTokens; ///< channel id: its catch-up's playback token
    qint64 m_archiveTokensExpire = 0;
    int m_shortTickets = 0; ///< tickets in a row that were (nearly) expired on arrival
    int m_archiveHours = 0;
};

} // namespace iptv::hubris
