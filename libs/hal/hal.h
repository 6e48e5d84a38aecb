#pragma once

// The manufacturer's API as Hubris sees it: a video player, volume and mute, standby, a front
// panel. The base classes own the state and the signals; an implementation (DesktopHal for the
// simulator, LinuxBoxHal for a box) only does the hardware part in the apply*() hooks, so every
// implementation behaves the same towards the UI.

#include <QObject>
#include <QStringList>
#include <QString>
#include <QUrl>

QT_BEGIN_NAMESPACE
class QVideoSink;
QT_END_NAMESPACE

namespace iptv::hal {

/// How the current source started: each step in ms after play() (-1: not reached, or not known
/// to this player). The parts of a zap that the diagnostics overlay, telemetry and bench_zap show.
struct StartTiming
{
    QUrl source;
    quint64 generation = 0;       ///< which play() this is (1, 2, ...): frames of an older one never count
    qint64 requestedAtNs = 0;     ///< when play() was called, on the steady clock (std::chrono::steady_clock)
    qint64 connectedMs = -1;      ///< the server answered (TCP connected, HTTP response read)
    qint64 openedMs = -1;         ///< the container's header read (TS: PAT and PMT), decoders open
    qint64 firstKeyframeMs = -1;  ///< the first video keyframe packet read
    qint64 firstDecodedMs = -1;   ///< that keyframe decoded into a picture
    qint64 firstShownMs = -1;     ///< the picture handed to the video sink
};

/// The audio and subtitle streams of the current source, by language tag ("" when untagged).
struct StreamTracks
{
    QStringList audioLanguages;
    int audioTrack = -1;          ///< which of them plays (-1: none)
    QStringList subtitleLanguages;
    int subtitleTrack = -1;       ///< the one chosen for the viewer's language (-1: none, or off)

    bool operator==(const StreamTracks &) const = default;
};

/// Whether a stream's language tag (ISO 639-2, "eng", "ger"/"deu", or 639-1) is the viewer's
/// language `wanted` (ISO 639-1 or -2, as the box's settings keep it). Empty never matches.
bool languageMatches(const QString &wanted, const QString &tag);

/// Plays one live stream at a time into a video sink.
class Player : public QObject
{
    Q_OBJECT
    Q_PROPERTY(State state READ state NOTIFY stateChanged)
    Q_PROPERTY(QString errorString READ errorString NOTIFY stateChanged)
    Q_PROPERTY(QUrl source READ source NOTIFY sourceChanged)
    Q_PROPERTY(QStringList audioLanguages READ audioLanguages NOTIFY tracksChanged)
    Q_PROPERTY(int audioTrack READ audioTrack NOTIFY tracksChanged)
    Q_PROPERTY(QStringList subtitleLanguages READ subtitleLanguages NOTIFY tracksChanged)
    Q_PROPERTY(int subtitleTrack READ subtitleTrack NOTIFY tracksChanged)
public:
    enum class State { Stopped, Opening, Playing, Failed };
    Q_ENUM(State)
    /// Why the current (or last) source failed.
    enum class Failure {
        None,         ///< it has not failed
        Error,        ///< it could not be played on (a network error, a stall, a broken stream)
        Ended,        ///< all of it was read (hasEnded())
        Unauthorized  ///< the server refused its credential (HTTP 401; isUnauthorized())
    };
    Q_ENUM(Failure)

    using QObject::QObject;

    /// Starts `url` at once (a zap: the previous stream stops).
    virtual void play(const QUrl &url) = 0;
    virtual void stop() = 0;
    /// Where frames go (the QML VideoOutput's sink); null detaches.
    Q_INVOKABLE virtual void setVideoSink(QVideoSink *sink) = 0;
    /// Volume 0 to 100 and mute, as the Hal applies them.
    virtual void setAudio(int volume, bool muted) { Q_UNUSED(volume) Q_UNUSED(muted) }

    /// The viewer's languages (ISO 639-1 or -2; "" = the stream's default; subtitles "" = off),
    /// used from the next play() on.
    void setPreferredLanguages(const QString &audio, const QString &subtitle)
    {
        m_audioLanguage = audio;
        m_subtitleLanguage = subtitle;
    }
    QString preferredAudioLanguage() const { return m_audioLanguage; }
    QString preferredSubtitleLanguage() const { return m_subtitleLanguage; }
    /// The current source's streams (empty until its header was read).
    const StreamTracks &tracks() const { return m_tracks; }
    QStringList audioLanguages() const { return m_tracks.audioLanguages; }
    int audioTrack() const { return m_tracks.audioTrack; }
    QStringList subtitleLanguages() const { return m_tracks.subtitleLanguages; }
    int subtitleTrack() const { return m_tracks.subtitleTrack; }

    State state() const { return m_state; }
    /// The current (or last) source's start so far; complete once firstFrame() was emitted.
    const StartTiming &startTiming() const { return m_timing; }
    QString errorString() const { return m_error; }
    Failure failure() const { return m_failure; }
    /// The last failure was the end of the stream (all of it was read), not an error: live TV
    /// that ends has failed all the same, a recording that ends is over.
    bool hasEnded() const { return m_failure == Failure::Ended; }
    /// The last failure was the server refusing the source's credential (HTTP 401), when it was
    /// opened or on a playlist's reload (a playback token that expired while it played): played
    /// again with a fresh credential, it plays on.
    bool isUnauthorized() const { return m_failure == Failure::Unauthorized; }
    QUrl source() const { return m_source; }

Q_SIGNALS:
    void stateChanged(iptv::hal::Player::State state);
    void sourceChanged(const QUrl &source);
    /// The first frame of the current source is shown, `elapsedMs` after play();
    /// startTiming() has its parts.
    void firstFrame(qint64 elapsedMs);
    void errorOccurred(const QString &message);
    void tracksChanged();

protected:
    void setTracks(const StreamTracks &tracks);
    void setSource(const QUrl &url);
    void setState(State state);
    void fail(const QString &message);
    /// Fails with `message` because the stream ended (hasEnded()).
    void end(const QString &message);
    /// Fails with `message` for `why` (fail() and end() for Error and Ended).
    void failWith(const QString &message, Failure why);
    /// Records the current source's start (what the implementation measured) and, when its first
    /// frame was shown, emits firstFrame().
    void setStartTiming(const StartTiming &timing);

private:
    StartTiming m_timing;
    StreamTracks m_tracks;
    QString m_audioLanguage;
    QString m_subtitleLanguage;
    State m_state = State::Stopped;
    QString m_error;
    Failure m_failure = Failure::None;
    QUrl m_source;
};

/// The player for this machine: FfmpegPlayer, or MediaPlayer (Qt Multimedia) when the
/// environment says IPTV_PLAYER=qtmultimedia.
Player *createPlayer(QObject *parent);

class Hal : public QObject
{
    Q_OBJECT
    Q_PROPERTY(int volume READ volume WRITE setVolume NOTIFY volumeChanged)
    Q_PROPERTY(bool muted READ isMuted WRITE setMuted NOTIFY mutedChanged)
    Q_PROPERTY(bool standby READ isStandby WRITE setStandby NOTIFY standbyChanged)
    Q_PROPERTY(QString frontPanelText READ frontPanelText WRITE setFrontPanelText NOTIFY frontPanelTextChanged)
    Q_PROPERTY(QString model READ model CONSTANT)
    Q_PROPERTY(iptv::hal::Player *player READ player CONSTANT)
public:
    using QObject::QObject;

    virtual Player *player() = 0;
    /// "desktop simulator", "linux box (…)": for the about screen and telemetry.
    virtual QString model() const = 0;

    int volume() const { return m_volume; }
    bool isMuted() const { return m_muted; }
    bool isStandby() const { return m_standby; }
    QString frontPanelText() const { return m_frontPanel; }

public Q_SLOTS:
    /// 0 to 100, clamped.
    void setVolume(int volume);
    void changeVolume(int delta) { setVolume(m_volume + delta); }
    void setMuted(bool muted);
    void toggleMute() { setMuted(!m_muted); }
    /// Standby stops the video and blanks the screen; waking restores neither by itself (the UI
    /// tunes again).
    void setStandby(bool standby);
    void setFrontPanelText(const QString &text);

Q_SIGNALS:
    void volumeChanged(int volume);
    void mutedChanged(bool muted);
    void standbyChanged(bool standby);
    void frontPanelTextChanged(const QString &text);

protected:
    virtual void applyVolume(int volume, bool muted) = 0;
    virtual void applyStandby(bool standby) = 0;
    virtual void applyFrontPanel(const QString &text) = 0;

private:
    int m_volume = 50;
    bool m_muted = false;
    bool m_standby = false;
    QString m_frontPanel;
};

} // namespace iptv::hal
