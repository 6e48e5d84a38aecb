#pragma once

// Playing what diver keeps, on the box's one player: a recording from the library (resumed at
// its stored position, which is saved again when the viewer stops), an airing of an archived
// channel from its start (catch-up, watch from start), and live TV paused or rewound (timeshift:
// the channel's archive from the moment paused up to the live edge). The HAL player plays a URL
// only, so a seek plays the same thing again from the new offset (diver cuts the playlist there,
// at the start of the segment the offset falls in, and says where: X-Playlist-Start); the
// position is where the cut starts plus the time played since the first frame, on the
// recording's timeline: the playlist's EXT-X-PROGRAM-DATE-TIME, which runs on across a hole in
// the dates (a source that stalled) where the media does not.

#include "dvrclient.h"
#include "zapper.h"

#include <hal/hal.h>

#include <QElapsedTimer>
#include <QObject>
#include <QTimer>
#include <QtQml/qqmlregistration.h>

namespace iptv::hubris {

class DvrPlayback : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("one per box, made by the app")
    Q_PROPERTY(bool active READ isActive NOTIFY activeChanged)
    Q_PROPERTY(QString mode READ mode NOTIFY activeChanged)
    Q_PROPERTY(QString title READ title NOTIFY activeChanged)
    Q_PROPERTY(bool paused READ isPaused NOTIFY pausedChanged)
    Q_PROPERTY(qint64 position READ position NOTIFY positionChanged)
    Q_PROPERTY(qint64 duration READ duration NOTIFY positionChanged)
    Q_PROPERTY(QString positionText READ positionText NOTIFY positionChanged)
    Q_PROPERTY(qreal progress READ progress NOTIFY positionChanged)
    Q_PROPERTY(qreal availableFrom READ availableFrom NOTIFY positionChanged)
    Q_PROPERTY(qreal availableTo READ availableTo NOTIFY positionChanged)
public:
    DvrPlayback(DvrClient *client, hal::Player *player, Zapper *zapper, QObject *parent = nullptr);

    bool isActive() const { return !m_mode.isEmpty(); }
    /// "recording", "catchup", "timeshift" or "" (live TV).
    QString mode() const { return m_mode; }
    /// The recording's or programme's title; for timeshift, the channel ("1 Emerald Movies").
    QString title() const { return m_title; }
    bool isPaused() const { return m_paused; }
    /// Seconds from the start (recording, catch-up); for timeshift, seconds behind live.
    qint64 position() const;
    /// Seconds in all (recording, catch-up); 0 for timeshift.
    qint64 duration() const { return m_duration; }
    /// "12:04 / 58:00", or "2:15 behind live".
    QString positionText() const;
    /// Where the viewer is, 0 to 1: in the recording or programme; in timeshift, in what the
    /// channel's archive holds (from its start, at most diver's archive hours back, to live).
    qreal progress() const;
    /// What can be played now, as the part of the whole (0 to 1) the bar shows lighter: all of a
    /// finished recording; of one still being made up to what is recorded; of a programme on now
    /// or begun before the archive, from the archive's start to now; all of timeshift.
    qreal availableFrom() const;
    qreal availableTo() const;

    /// Plays row `row` of the library from its stored position (from the start when near its end).
    Q_INVOKABLE bool playRecording(int row);
    /// Plays airing `airing` of an archived channel from its start (catch-up, watch from start),
    /// or from where the archive begins; false when it ended before that.
    Q_INVOKABLE bool watchFromStart(int airing);
    /// Pauses live TV on archived `channel` (a guide index): OK plays on from the paused moment.
    Q_INVOKABLE bool pauseLive(int channel);
    /// Live TV on archived `channel` from `seconds` ago.
    Q_INVOKABLE bool rewindLive(int channel, int seconds);
    Q_INVOKABLE void togglePause();
    /// Plays from `seconds` later (negative: earlier); past the live edge of timeshift: live TV.
    Q_INVOKABLE void seekBy(int seconds);
    /// Ends playback: a recording's position is stored, live TV plays again.
    Q_INVOKABLE void stop();

Q_SIGNALS:
    void activeChanged();
    void pausedChanged();
    void positionChanged();
    /// Timeshift caught up with live: the channel plays live again.
    void backToLive();
    /// A recording or catch-up played to its end: playback stopped (a recording is stored as
    /// watched, so it plays from the start next time), live TV plays again.
    void ended();

private:
    void playFrom(qint64 offset);
    /// The last second a seek or resume may go to: a recording in progress (or a programme still
    /// on, from its start) holds what has been recorded so far, a few seconds behind the clock.
    qint64 playableEnd() const;
    void setPaused(bool paused);
    qint64 now() const;
    /// "1 Emerald Movies": what timeshift shows as its title.
    QString channelTitle(int channel) const;
    /// The player read the whole of what it played (hal::Player::hasEnded()).
    void onEnded(const QUrl &source);
    /// The server refused the playing URL's credential (hal::Player::isUnauthorized(): a playback
    /// token that expired while a timeshift's playlist was reloaded): fresh tokens are asked for,
    /// and it plays on from where it was with them.
    void onRefused(const QUrl &source);
    /// The URL that plays from `offset` (seconds from the start, or UTC s for timeshift).
    QUrl urlFrom(qint64 offset) const;

    DvrClient *m_client;
    hal::Player *m_player;
    Zapper *m_zapper;
    QString m_mode;
    QString m_title;
    qint64 m_recordingId = 0;
    qint64 m_recordStart = 0; ///< a recording in progress: UTC s its playlist begins at; 0 when finished
    int m_channel = -1;
    qint64 m_start = 0;    ///< catch-up: the airing's start; timeshift: unused
    qint64 m_duration = 0;
    qint64 m_offset = 0;   ///< where the current play() began: seconds from the start, or UTC s (timeshift)
    quint64 m_playNumber = 0; ///< play()s so far: diver's answer of where a cut starts is for the latest only
    qint64 m_urlExpires = 0;  ///< when the playing URL's playback token expires (UTC s; 0: not known)
    qint64 m_urlLife = 0;     ///< how long it had left when play() began (s)
    QUrl m_refusedUrl;        ///< refused (401): waiting for a fresh token to play on with; empty: not waiting
    qint64 m_refusedAt = 0;   ///< when (UTC s)
    bool m_renewedSinceFrame = false; ///< played again after a refusal, and no picture since: not again
    bool m_paused = false;
    QElapsedTimer m_played; ///< since the first frame of the current play()
    QList<DvrClient::SegmentDate> m_dates; ///< of the current play()'s playlist (its timeline)
    /// Seconds of the recording's timeline (wall clock) after `playedMs` of its media from the
    /// current play()'s first segment: its program dates; the media's seconds without them.
    qint64 wallSecondsAfter(qint64 playedMs) const;
    QTimer m_tick;
};

} // namespace iptv::hubris
