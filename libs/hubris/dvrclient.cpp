#include "dvrclient.h"

#include <boxlink/boxlink.h>

#include <QJsonArray>
#include <QJsonDocument>
#include <QLoggingCategory>
#include <QNetworkReply>
#include <QUrlQuery>

#include <algorithm>

Q_LOGGING_CATEGORY(lcDvr, "iptv.hubris.dvr", QtInfoMsg)

namespace iptv::hubris {

namespace {
const QString kAudience = QStringLiteral("diver");
constexpr int kTimeoutMs = 8000;
constexpr int kPollMs = 30000;
/// A ticket that by this box's clock is (nearly) expired on arrival is renewed after this, then
/// twice as long each time up to kMaxRetryRenewSeconds: a box clock far off does not ask every 10 s.
constexpr qint64 kFirstRetryRenewSeconds = 10;
constexpr qint64 kMaxRetryRenewSeconds = 1800;
/// Archive playback tokens are asked for again at half their life, but no more often than this
/// (tokens that look expired on arrival: the box's clock is off).
constexpr qint64 kMinTokenRefreshSeconds = 2;

/// A channel's id as one segment of a URL path (ids may hold spaces, '#', '?').
QString pathSegment(const QString &id)
{
    return QString::fromLatin1(QUrl::toPercentEncoding(id));
}
} // namespace

DvrClient::DvrClient(GuideStore *store, const QUrl &server, QObject *parent)
    : QObject(parent), m_store(store), m_server(server), m_nam(this)
{
    m_renew.setSingleShot(true);
    connect(&m_renew, &QTimer::timeout, this, &DvrClient::requestTicket);
    // The library changes by itself (recordings start and finish): read it again now and then,
    // and retry after diver was down.
    m_poll.setInterval(kPollMs);
    connect(&m_poll, &QTimer::timeout, this, &DvrClient::refresh);
    m_tokenRefresh.setSingleShot(true);
    connect(&m_tokenRefresh, &QTimer::timeout, this, &DvrClient::refreshStatus);
    if (isEnabled()) {
        m_poll.start();
        m_status = tr("The box is not connected to the operator: recordings are unavailable");
    } else {
        m_status = tr("No recorder is set up on this box");
    }
    connect(store, &GuideStore::guideChanged, this, &DvrClient::updateMarks);
}

DvrClient::~DvrClient() = default;

void DvrClient::setTicketSource(boxlink::BoxLink *link)
{
    if (m_link)
        m_link->disconnect(this);
    m_link = link;
    if (!link)
        return;
    connect(link, &boxlink::BoxLink::ticketReceived, this,
            [this](const QString &audience, const QByteArray &ticket, const QDateTime &expires) {
                if (audience == kAudience)
                    setTicket(ticket, expires);
            });
    connect(link, &boxlink::BoxLink::ticketFailed, this, [this](const QString &audience, const QString &reason) {
        if (audience != kAudience)
            return;
        m_ticketRequested = false;
        setReady(false);
        setStatus(tr("The operator gave this box no pass for the recorder: %1").arg(reason));
    });
    connect(link, &boxlink::BoxLink::stateChanged, this, [this] {
        if (m_link->isOnline() && (m_ticket.isEmpty() || m_ticketExpires <= QDateTime::currentDateTimeUtc()))
            requestTicket();
        else if (!m_link->isOnline() && m_ticket.isEmpty())
            setStatus(tr("The box is offline: recordings are unavailable until it is back"));
    });
    setStatus(tr("Connecting to the recorder…"));
    if (link->isOnline())
        requestTicket();
}

void DvrClient::requestTicket()
{
    if (!isEnabled() || !m_link || m_ticketRequested)
        return;
    if (!m_link->requestTicket(kAudience)) {
        setStatus(tr("The box is offline: recordings are unavailable until it is back"));
        return;
    }
    m_ticketRequested = true;
}

void DvrClient::setTicket(const QByteArray &ticket, const QDateTime &expires)
{
    m_ticketRequested = false;
    const bool first = m_ticket.isEmpty();
    m_ticket = ticket;
    m_ticketExpires = expires;
    // Renewed ahead of its expiry, so a call never carries a ticket about to run out. One that
    // is about to by this box's clock on arrival says the clock is off (diver, whose clock
    // counts, took it): asked again later and later, not every few seconds for ever.
    const qint64 in = QDateTime::currentDateTimeUtc().secsTo(expires) - m_renewBefore;
    qint64 renewIn = in;
    if (in < kFirstRetryRenewSeconds) {
        renewIn = std::min(kMaxRetryRenewSeconds, kFirstRetryRenewSeconds << std::min(m_shortTickets, 8));
        ++m_shortTickets;
    } else {
        m_shortTickets = 0;
    }
    m_renew.start(int(std::clamp<qint64>(renewIn, kFirstRetryRenewSeconds, 24 * 3600) * 1000));
    qCDebug(lcDvr) << "ticket for diver until" << expires.toString(Qt::ISODate);
    if (first || !m_ready)
        refresh();
}

void DvrClient::setStatus(const QString &status)
{
    if (status == m_status)
        return;
    m_status = status;
    Q_EMIT statusChanged();
}

void DvrClient::setReady(bool ready)
{
    if (ready == m_ready)
        return;
    m_ready = ready;
    Q_EMIT readyChanged();
}

void DvrClient::fail(const QString &message)
{
    qCWarning(lcDvr, "%s", qPrintable(message));
    Q_EMIT errorOccurred(message);
}

void DvrClient::call(const QByteArray &verb, const QString &path, const QJsonObject &body, Handler done)
{
    if (!isEnabled()) {
        fail(tr("No recorder is set up on this box"));
        return;
    }
    if (m_ticket.isEmpty()) {
        requestTicket();
        if (verb != "GET")
            fail(m_status.isEmpty() ? tr("Not signed in to the recorder yet; try again in a moment") : m_status);
        return;
    }
    QUrl url = m_server;
    // `path` is encoded (a channel's id in it is one escaped segment, pathSegment()): kept as it
    // is, not encoded again ("%2F" would go out as "%252F").
    const qsizetype query = path.indexOf(u'?');
    url.setPath(m_server.path(QUrl::FullyEncoded) + path.left(query), QUrl::TolerantMode);
    if (query >= 0)
        url.setQuery(path.mid(query + 1), QUrl::TolerantMode);
    QNetworkRequest request(url);
    request.setRawHeader("Authorization", "Bearer " + m_ticket);
    request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    request.setTransferTimeout(kTimeoutMs);
    const QByteArray payload = body.isEmpty() ? QByteArray() : QJsonDocument(body).toJson(QJsonDocument::Compact);
    QNetworkReply *reply = m_nam.sendCustomRequest(request, verb, payload);
    connect(reply, &QNetworkReply::finished, this, [this, reply, verb, path, sentWith = m_ticket, done = std::move(done)] {
        reply->deleteLater();
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        const QJsonObject json = QJsonDocument::fromJson(reply->readAll()).object();
        if (status == 0) {
            // No answer at all: diver is down or unreachable.
            setReady(false);
            const QString message = tr("The recorder cannot be reached (%1)").arg(reply->errorString());
            setStatus(message);
            if (verb != "GET")
                fail(message);
            return;
        }
        if (status == 401) {
            // Of the ticket it was sent with: one renewed since is not thrown away, and the
            // calls sent together with this one (refresh()'s) say it once, not each.
            if (sentWith != m_ticket)
                return;
            const QString why = json.value(u"detail").toString();
            m_ticket.clear();
            setReady(false);
            setStatus(tr("The recorder refused this box's pass: %1").arg(why));
            fail(m_status);
            requestTicket();
            return;
        }
        setReady(true);
        setStatus({});
        if (status >= 400) {
            const QString detail = json.value(u"detail").toString();
            fail(detail.isEmpty() ? tr("The recorder answered %1 to %2 %3").arg(status).arg(QString::fromLatin1(verb), path) : detail);
        }
        if (done)
            done(status, json);
    });
}

void DvrClient::refresh()
{
    if (!isEnabled() || (m_ticket.isEmpty() && !m_link))
        return;
    fetchLibraryPage({}, {}, ++m_libraryFetch);
    call("GET", QStringLiteral("/api/upcoming"), {}, [this](int status, const QJsonObject &body) {
        if (status != 200)
            return;
        QList<DvrUpcoming> items;
        for (const QJsonValue &v : body.value(u"planned").toArray())
            items.append(DvrUpcoming::plannedFromJson(v.toObject()));
        // diver lists the airing being recorded now as "already recorded" by itself: the
        // library shows it, the upcoming list does not.
        QSet<QString> inLibrary;
        for (const DvrRecording &r : m_recordings.items())
            inLibrary.insert(airingKey(r.channel, r.start));
        for (const QJsonValue &v : body.value(u"skipped").toArray()) {
            const DvrUpcoming u = DvrUpcoming::skippedFromJson(v.toObject());
            if (!(u.reason == u"already-recorded" && inLibrary.contains(airingKey(u.channel, u.start))))
                items.append(u);
        }
        m_upcoming.setItems(items);
        updateMarks();
    });
    refreshStatus();
}

void DvrClient::fetchLibraryPage(const QString &cursor, QList<DvrRecording> got, int fetch)
{
    // By pages (diver's keyset cursor: a recording made or deleted meanwhile moves no other
    // across a page's edge), shown once the last is in. A diver that does not page answers the
    // whole list, with no "next".
    QString path = QStringLiteral("/api/recordings?limit=%1").arg(m_libraryPageSize);
    if (!cursor.isEmpty())
        path += u"&cursor="_qs + QString::fromLatin1(QUrl::toPercentEncoding(cursor));
    call("GET", path, {}, [this, cursor, got = std::move(got), fetch](int status, const QJsonObject &body) mutable {
        if (status != 200 || fetch != m_libraryFetch)
            return; // failed (said by call()), or a later refresh is under way
        ++m_libraryPagesRead;
        for (const QJsonValue &v : body.value(u"recordings").toArray())
            got.append(DvrRecording::fromJson(v.toObject()));
        const QString next = body.value(u"next").toString();
        if (!next.isEmpty() && next != cursor) {
            fetchLibraryPage(next, std::move(got), fetch);
            return;
        }
        m_recordings.setItems(got);
        updateMarks();
    });
}

void DvrClient::refreshStatus()
{
    if (!isEnabled() || (m_ticket.isEmpty() && !m_link))
        return;
    call("GET", QStringLiteral("/api/status"), {}, [this](int status, const QJsonObject &body) {
        if (status != 200)
            return;
        QSet<QString> archived;
        for (const QJsonValue &v : body.value(u"archivedChannels").toArray())
            archived.insert(v.toString());
        m_archiveHours = body.value(u"archiveHours").toInt();
        QHash<QString, qint64> from;
        const QJsonObject starts = body.value(u"archiveFrom").toObject();
        for (auto it = starts.begin(); it != starts.end(); ++it)
            from.insert(it.key(), it.value().toInteger());
        // The playback tokens of the archived channels' URLs (a diver before them: none, and
        // the URLs carry the ticket).
        QHash<QString, QByteArray> tokens;
        const QJsonObject given = body.value(u"archiveTokens").toObject();
        for (auto it = given.begin(); it != given.end(); ++it)
            tokens.insert(it.key(), it.value().toString().toLatin1());
        m_archiveTokens = tokens;
        m_archiveTokensExpire = body.value(u"archiveTokensExpire").toInteger();
        // Fresh tokens well before these expire (a player plays on with one, DvrPlayback): at
        // half their life, when the poll would come later (diver's [archive] token_seconds).
        if (!tokens.isEmpty() && m_archiveTokensExpire > 0) {
            const qint64 half = (m_archiveTokensExpire - QDateTime::currentSecsSinceEpoch()) / 2;
            if (half * 1000 < kPollMs)
                m_tokenRefresh.start(int(std::max(kMinTokenRefreshSeconds, half) * 1000));
        }
        if (from != m_archiveFrom) {
            m_archiveFrom = from;
            ++m_revision; // the details' choices read archiveStart() again
            Q_EMIT marksChanged();
        }
        if (archived != m_archived) {
            m_archived = archived;
            updateMarks();
        }
    });
}

void DvrClient::updateMarks()
{
    QHash<QString, QString> marks;
    QHash<QString, qint64> rules;
    QSet<QString> skipped;
    for (const DvrUpcoming &u : m_upcoming.items()) {
        if (u.planned)
            marks.insert(airingKey(u.channel, u.start), QStringLiteral("planned"));
        else if (u.reason == u"conflict")
            marks.insert(airingKey(u.channel, u.start), QStringLiteral("conflict"));
        else if (u.reason == u"cancelled")
            skipped.insert(airingKey(u.channel, u.start));
        if (u.rule != 0)
            rules.insert(airingKey(u.channel, u.start), u.rule);
    }
    for (const DvrRecording &r : m_recordings.items()) {
        if (r.state == u"recording")
            marks.insert(airingKey(r.channel, r.start), QStringLiteral("recording"));
    }
    m_ruleOf = rules;
    m_marks = marks;
    m_skipped = skipped;
    ++m_revision; // the grid's bindings read markOf() again
    Q_EMIT marksChanged();
}

QString DvrClient::markOf(int airing) const
{
    const auto guide = m_store->guide();
    if (!guide || airing < 0 || quint32(airing) >= guide->airingCount() || m_marks.isEmpty())
        return {};
    const epg::Airing a = guide->airing(quint32(airing));
    return m_marks.value(airingKey(guide->channelId(int(a.channel)), a.start));
}

QString DvrClient::reasonOf(int airing) const
{
    const auto guide = m_store->guide();
    if (!guide || airing < 0 || quint32(airing) >= guide->airingCount())
        return {};
    const epg::Airing a = guide->airing(quint32(airing));
    const QString channel = guide->channelId(int(a.channel));
    for (const DvrUpcoming &u : m_upcoming.items()) {
        if (!u.planned && u.channel == channel && u.start == a.start)
            return u.why;
    }
    return {};
}

bool DvrClient::isSeries(int airing) const
{
    const auto guide = m_store->guide();
    if (!guide || airing < 0 || quint32(airing) >= guide->airingCount())
        return false;
    const epg::Airing a = guide->airing(quint32(airing));
    return ruleIsSeries(m_ruleOf.value(airingKey(guide->channelId(int(a.channel)), a.start)));
}

bool DvrClient::ruleIsSeries(qint64 rule) const
{
    if (rule == 0)
        return false;
    // By the rule's kind: a series with one airing left to come is a series all the same (its
    // next week's airing is not in the guide yet), and deleting it would end it.
    int airings = 0;
    for (const DvrUpcoming &u : m_upcoming.items()) {
        if (u.rule != rule)
            continue;
        if (!u.ruleKind.isEmpty())
            return u.ruleKind != u"single";
        ++airings;
    }
    return airings > 1; // a diver that does not say the kind
}

bool DvrClient::isSkipped(int airing) const
{
    const auto guide = m_store->guide();
    if (!guide || airing < 0 || quint32(airing) >= guide->airingCount() || m_skipped.isEmpty())
        return false;
    const epg::Airing a = guide->airing(quint32(airing));
    return m_skipped.contains(airingKey(guide->channelId(int(a.channel)), a.start));
}

qint64 DvrClient::archiveStart(int channel) const
{
    const auto guide = m_store->guide();
    return guide && channel >= 0 && channel < guide->channelCount() ? m_archiveFrom.value(guide->channelId(channel)) : 0;
}

bool DvrClient::isArchived(int channel) const
{
    const auto guide = m_store->guide();
    return guide && channel >= 0 && channel < guide->channelCount() && m_archived.contains(guide->channelId(channel));
}

QUrl DvrClient::archiveUrl(int channel, qint64 from, qint64 seconds) const
{
    const auto guide = m_store->guide();
    if (!guide || channel < 0 || channel >= guide->channelCount())
        return {};
    const QString id = guide->channelId(channel);
    QUrl url = m_server;
    url.setPath(m_server.path(QUrl::FullyEncoded)
                    + QStringLiteral("/catchup/%1/archive-%2-%3.m3u8")
                          .arg(pathSegment(id), QString::number(from), seconds > 0 ? QString::number(seconds) : QStringLiteral("now")),
                QUrl::TolerantMode);
    // The channel's playback token outlives the ticket (a player reloads a timeshift's playlist
    // for as long as it plays); a diver that gives none gets the ticket.
    QUrlQuery query;
    const QByteArray token = m_archiveTokens.value(id);
    if (!token.isEmpty())
        query.addQueryItem(QStringLiteral("playback"), QString::fromLatin1(token));
    else
        query.addQueryItem(QStringLiteral("ticket"), QString::fromLatin1(m_ticket));
    url.setQuery(query);
    return url;
}

QUrl DvrClient::recordingUrl(qint64 id, qint64 offset) const
{
    QUrl url = m_server;
    url.setPath(m_server.path() + QStringLiteral("/play/%1/index.m3u8").arg(id));
    // The recording's playback token from diver's library (its `playlist`), which outlives the
    // ticket; the ticket only for a recording not in the list (or a diver without tokens).
    QString token;
    for (const DvrRecording &r : m_recordings.items()) {
        if (r.id == id)
            token = QUrlQuery(QUrl(r.playlist)).queryItemValue(QStringLiteral("playback"), QUrl::FullyEncoded);
    }
    QUrlQuery query;
    if (!token.isEmpty())
        query.addQueryItem(QStringLiteral("playback"), token);
    else
        query.addQueryItem(QStringLiteral("ticket"), QString::fromLatin1(m_ticket));
    if (offset > 0)
        query.addQueryItem(QStringLiteral("start"), QString::number(offset));
    url.setQuery(query);
    return url;
}

qint64 DvrClient::archiveTokenExpires(int channel) const
{
    const auto guide = m_store->guide();
    return guide && channel >= 0 && channel < guide->channelCount() && m_archiveTokens.contains(guide->channelId(channel))
        ? m_archiveTokensExpire
        : 0;
}

void DvrClient::playlistStart(const QUrl &url, std::function<void(std::optional<double>, QList<SegmentDate>)> done)
{
    if (!url.isValid()) {
        done(std::nullopt, {});
        return;
    }
    QNetworkRequest request(url);
    request.setTransferTimeout(kTimeoutMs);
    QNetworkReply *reply = m_nam.get(request);
    connect(reply, &QNetworkReply::finished, this, [reply, done = std::move(done)] {
        reply->deleteLater();
        bool ok = false;
        const double seconds = reply->rawHeader("X-Playlist-Start").toDouble(&ok);
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        if (status != 200) {
            done(std::nullopt, {});
            return;
        }
        done(ok ? std::optional<double>(seconds) : std::nullopt, segmentDates(reply->readAll()));
    });
}

QList<DvrClient::SegmentDate> DvrClient::segmentDates(const QByteArray &playlist)
{
    QList<SegmentDate> dates;
    double mediaSeconds = 0, extinf = 0;
    qint64 dateMs = 0;
    for (const QByteArray &raw : playlist.split('\n')) {
        const QByteArray line = raw.trimmed();
        if (line.startsWith("#EXT-X-PROGRAM-DATE-TIME:")) {
            const QDateTime when = QDateTime::fromString(QString::fromLatin1(line.mid(25)), Qt::ISODateWithMs);
            dateMs = when.isValid() ? when.toMSecsSinceEpoch() : 0;
        } else if (line.startsWith("#EXTINF:")) {
            extinf = line.mid(8, line.indexOf(',') - 8).toDouble();
        } else if (!line.isEmpty() && !line.startsWith('#')) {
            if (dateMs > 0)
                dates.append({mediaSeconds, dateMs});
            mediaSeconds += extinf;
            extinf = 0;
            dateMs = 0;
        }
    }
    return dates;
}

void DvrClient::postRule(const QJsonObject &rule, const QString &title)
{
    const QString path = rule.value(u"kind").toString() == u"single" ? QStringLiteral("/api/recordings") : QStringLiteral("/api/rules");
    call("POST", path, rule, [this, title](int status, const QJsonObject &body) {
        if (status != 201 && status != 200)
            return;
        const QJsonArray planned = body.value(u"planned").toArray();
        const QJsonArray skipped = body.value(u"skipped").toArray();
        QString reason = skipped.isEmpty() ? QString() : skippedSummaryText(skipped);
        if (reason.isEmpty() && planned.isEmpty())
            reason = QStringList(body.value(u"notes").toVariant().toStringList()).join(u' ');
        // An airing on now is recorded at once (diver plans it from now): it is not one that
        // "will be" recorded.
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        const int recordingNow = int(std::count_if(planned.cbegin(), planned.cend(), [now](const QJsonValue &v) {
            const QJsonObject p = v.toObject();
            return p.value(u"recordStart").toInteger(p.value(u"start").toInteger()) <= now + 1;
        }));
        Q_EMIT recorded(title, int(planned.size()), int(skipped.size()), reason, recordingNow,
                        recordedMessage(title, int(planned.size()), recordingNow, int(skipped.size()), reason), planned.isEmpty());
        refresh();
    });
}

QString DvrClient::skippedReason(const QJsonObject &skipped)
{
    return skippedReasonText(skipped);
}

QString DvrClient::recordedMessage(const QString &title, int planned, int now, int skipped, const QString &reason)
{
    if (planned == 0)
        return tr("“%1” will not be recorded: %2").arg(title, reason);
    const int later = planned - now;
    QString message;
    if (now > 0 && later == 0)
        message = tr("● Recording “%1” now").arg(title);
    else if (now > 0)
        message = later == 1 ? tr("● Recording “%1” now; 1 more airing will be recorded").arg(title)
                             : tr("● Recording “%1” now; %2 more airings will be recorded").arg(title).arg(later);
    else if (planned == 1)
        message = tr("● “%1” will be recorded").arg(title);
    else
        message = tr("● %1 airings of “%2” will be recorded").arg(planned).arg(title);
    if (skipped == 1)
        message += tr("; 1 airing not (%1)").arg(reason);
    else if (skipped > 1)
        message += tr("; %1 airings not (%2)").arg(skipped).arg(reason);
    return message;
}

void DvrClient::recordAiring(int airing)
{
    const auto guide = m_store->guide();
    if (!guide || airing < 0 || quint32(airing) >= guide->airingCount())
        return;
    const epg::Airing a = guide->airing(quint32(airing));
    postRule({{u"kind"_qs, u"single"_qs}, {u"channel"_qs, guide->channelId(int(a.channel))}, {u"start"_qs, a.start}},
             guide->title(a.programme));
}

void DvrClient::recordSeries(int airing)
{
    const auto guide = m_store->guide();
    if (!guide || airing < 0 || quint32(airing) >= guide->airingCount())
        return;
    const epg::Airing a = guide->airing(quint32(airing));
    const QString title = guide->title(a.programme);
    postRule({{u"kind"_qs, u"title"_qs}, {u"title"_qs, title}, {u"channel"_qs, guide->channelId(int(a.channel))}}, title);
}

void DvrClient::cancelAiring(int airing)
{
    const auto guide = m_store->guide();
    if (!guide || airing < 0 || quint32(airing) >= guide->airingCount())
        return;
    const epg::Airing a = guide->airing(quint32(airing));
    const QString key = airingKey(guide->channelId(int(a.channel)), a.start);
    if (m_marks.value(key) == u"recording") {
        // Removing its rule would not stop it (diver records what has begun to its end); stopping
        // it in the library does.
        fail(tr("“%1” is being recorded: stop it in Recordings").arg(guide->title(a.programme)));
        return;
    }
    const qint64 rule = m_ruleOf.value(key);
    if (rule == 0) {
        fail(tr("This programme is not planned to be recorded"));
        return;
    }
    // Said, since it may be more than this airing: REC on an episode cancels its whole series.
    const QString title = guide->title(a.programme);
    cancelRule(rule, ruleIsSeries(rule) ? tr("The series “%1” will not be recorded").arg(title)
                                        : tr("“%1” will not be recorded").arg(title));
}

void DvrClient::cancelRule(qint64 rule, const QString &message)
{
    if (rule == 0)
        return;
    call("DELETE", QStringLiteral("/api/rules/%1").arg(rule), {}, [this, message](int status, const QJsonObject &) {
        if (status != 204)
            return;
        if (!message.isEmpty())
            Q_EMIT notice(message);
        refresh();
    });
}

void DvrClient::deleteRecording(qint64 id)
{
    call("DELETE", QStringLiteral("/api/recordings/%1").arg(id), {}, [this](int status, const QJsonObject &) {
        if (status != 204)
            return;
        Q_EMIT libraryChanged();
        refresh();
    });
}

void DvrClient::stopRecording(qint64 id)
{
    call("POST", QStringLiteral("/api/recordings/%1/stop").arg(id), {}, [this](int status, const QJsonObject &body) {
        if (status != 200)
            return;
        updateRow(body);
        refresh(); // the plan, and the marks: it records no more
    });
}

void DvrClient::skipAiring(qint64 rule, const QString &channel, qint64 start, bool skip)
{
    if (rule == 0 || channel.isEmpty())
        return;
    const QString path = QStringLiteral("/api/rules/%1/airings/%2/%3").arg(QString::number(rule), pathSegment(channel), QString::number(start));
    call("PUT", path, {{u"cancelled"_qs, skip}}, [this](int status, const QJsonObject &) {
        if (status == 200)
            refresh();
    });
}

QString DvrClient::titleAt(int airing) const
{
    const auto guide = m_store->guide();
    return guide && airing >= 0 && quint32(airing) < guide->airingCount() ? guide->title(guide->airing(quint32(airing)).programme)
                                                                           : QString();
}

void DvrClient::skipEpisode(int airing, bool skip)
{
    const auto guide = m_store->guide();
    if (!guide || airing < 0 || quint32(airing) >= guide->airingCount())
        return;
    const epg::Airing a = guide->airing(quint32(airing));
    const QString channel = guide->channelId(int(a.channel));
    const qint64 rule = m_ruleOf.value(airingKey(channel, a.start));
    if (rule == 0) {
        fail(tr("“%1” is not part of a series being recorded").arg(titleAt(airing)));
        return;
    }
    skipAiring(rule, channel, a.start, skip);
}

void DvrClient::recordAlternative(int row)
{
    if (row < 0 || row >= m_upcoming.items().size())
        return;
    const DvrUpcoming left = m_upcoming.items().at(row);
    if (left.planned || left.alternativeChannel.isEmpty()) {
        fail(tr("“%1” has no other airing to record").arg(left.title));
        return;
    }
    const QString where = left.alternative;
    const QJsonObject rule{{u"kind"_qs, u"single"_qs}, {u"channel"_qs, left.alternativeChannel}, {u"start"_qs, left.alternativeStart}};
    call("POST", QStringLiteral("/api/recordings"), rule, [this, left, where](int status, const QJsonObject &body) {
        if (status != 201 && status != 200)
            return;
        const QJsonArray planned = body.value(u"planned").toArray();
        const QJsonArray skipped = body.value(u"skipped").toArray();
        if (planned.isEmpty()) {
            // It does not fit after all (the plan changed): the airing left out stays as it was.
            const QString reason = skipped.isEmpty() ? QString() : skippedReasonText(skipped.first().toObject());
            Q_EMIT recorded(left.title, 0, int(skipped.size()), reason, 0, recordedMessage(left.title, 0, 0, int(skipped.size()), reason), true);
            refresh();
            return;
        }
        // The airing in conflict is not wanted any more: of a series, this episode is skipped
        // (the rule records the rest); a single recording's rule goes.
        if (ruleIsSeries(left.rule))
            skipAiring(left.rule, left.channel, left.start, true);
        else
            cancelRule(left.rule);
        Q_EMIT recorded(left.title, int(planned.size()), 0, {}, 0, tr("● “%1” will be recorded %2 instead").arg(left.title, where), false);
        refresh();
    });
}

void DvrClient::setKept(qint64 id, bool kept)
{
    changeRecording(id, {{u"kept"_qs, kept}});
}

void DvrClient::keepFor(qint64 id, int days)
{
    const QJsonValue until = days > 0 ? QJsonValue(QDateTime::currentSecsSinceEpoch() + qint64(days) * 86400) : QJsonValue(QJsonValue::Null);
    changeRecording(id, {{u"kept"_qs, true}, {u"keepUntil"_qs, until}});
}

void DvrClient::savePosition(qint64 id, qint64 seconds)
{
    changeRecording(id, {{u"position"_qs, std::max<qint64>(0, seconds)}});
}

void DvrClient::changeRecording(qint64 id, const QJsonObject &change)
{
    call("PUT", QStringLiteral("/api/recordings/%1").arg(id), change, [this](int status, const QJsonObject &body) {
        if (status != 200)
            return;
        updateRow(body);
    });
}

void DvrClient::updateRow(const QJsonObject &recording)
{
    // diver answers with the recording as it is now: that row is replaced, the rest kept.
    QList<DvrRecording> items = m_recordings.items();
    const DvrRecording updated = DvrRecording::fromJson(recording);
    for (DvrRecording &r : items) {
        if (r.id == updated.id)
            r = updated;
    }
    m_recordings.setItems(items);
    Q_EMIT libraryChanged();
}

} // namespace iptv::hubris
