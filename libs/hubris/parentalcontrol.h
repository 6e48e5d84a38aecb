#pragma once

// Parental control: a 4-digit PIN (default 0000 until the viewer changes it), channel locks and
// a rating lock (programmes rated at or above an age, from the guide's rating when it has one).
// Locked channels do not play, and locked channels and programmes are hidden from the grid and
// search, until the PIN is entered; that unlock lasts for the session and lapses on standby.
// Five wrong PINs in a row lock PIN entry out for five minutes, across restarts. Everything is
// kept in BoxSettings (only a salted hash of the PIN).

#include "boxsettings.h"
#include "guidestore.h"

#include <QHash>
#include <QObject>
#include <QSet>
#include <QTimer>

#include <functional>

namespace iptv::hubris {

class ParentalControl : public QObject
{
    Q_OBJECT
    /// The PIN was entered this session: nothing is locked or hidden until lock().
    Q_PROPERTY(bool unlocked READ isUnlocked NOTIFY changed)
    /// 0 = no rating lock; else programmes rated this age or above are locked.
    Q_PROPERTY(int ratingLimit READ ratingLimit NOTIFY changed)
    Q_PROPERTY(int lockedChannelCount READ lockedChannelCount NOTIFY changed)
    Q_PROPERTY(bool defaultPin READ isDefaultPin NOTIFY changed)
    Q_PROPERTY(int failedAttempts READ failedAttempts NOTIFY attemptsChanged)
    Q_PROPERTY(int attemptsLeft READ attemptsLeft NOTIFY attemptsChanged)
    Q_PROPERTY(bool lockedOut READ isLockedOut NOTIFY attemptsChanged)
    /// Seconds until PIN entry is allowed again (0 when not locked out); ticks each second.
    Q_PROPERTY(int lockoutSeconds READ lockoutSeconds NOTIFY lockoutTick)
public:
    static constexpr int kMaxAttempts = 5;
    static constexpr int kLockoutSeconds = 5 * 60;
    static inline const QString kDefaultPin = QStringLiteral("0000");

    ParentalControl(GuideStore *store, BoxSettings *settings, QObject *parent = nullptr);

    /// The wall clock (ms since the epoch) the lockout runs on; tests inject theirs.
    void setClock(std::function<qint64()> msSinceEpoch);

    bool isUnlocked() const { return m_unlocked; }
    int ratingLimit() const { return m_ratingLimit; }
    int lockedChannelCount() const { return int(m_lockedIds.size()); }
    bool isDefaultPin() const;
    int failedAttempts() const { return m_failed; }
    int attemptsLeft() const { return qMax(0, kMaxAttempts - m_failed); }
    bool isLockedOut() const { return lockoutSeconds() > 0; }
    int lockoutSeconds() const;

    /// Checks `pin`: right, the session is unlocked and the count of wrong ones starts again;
    /// wrong, it counts (the fifth locks entry out). Always false while locked out.
    Q_INVOKABLE bool enterPin(const QString &pin);
    /// Sets a new PIN (four digits); only in an unlocked session.
    Q_INVOKABLE bool changePin(const QString &pin);
    /// Sets the rating limit (0 or an age; only in an unlocked session, 0 = off).
    Q_INVOKABLE bool setRatingLimit(int age);
    /// The next or previous choice of the settings page (off, 6, 12, 16, 18).
    Q_INVOKABLE bool stepRatingLimit(int step);
    Q_INVOKABLE static QList<int> ratingChoices() { return {0, 6, 12, 16, 18}; }

    /// Channel locks, by the guide's channel index (kept by channel id).
    Q_INVOKABLE bool isChannelLocked(int channel) const;
    /// Locks or unlocks `channel`; only in an unlocked session. True when it changed.
    Q_INVOKABLE bool toggleChannelLock(int channel);
    QSet<QString> lockedChannelIds() const { return m_lockedIds; }

    /// Hidden from the grid and search now: a locked channel, the session locked.
    Q_INVOKABLE bool hidesChannel(int channel) const;
    /// A programme rated at or above the limit, the session locked.
    bool hidesProgramme(quint32 programme) const;
    /// Does not play now: a hidden channel, or what airs on it now is hidden.
    Q_INVOKABLE bool blocksChannel(int channel) const;
    /// The age the guide rates `programme` for, -1 when it has no rating.
    int programmeAge(quint32 programme) const;

    /// The age a rating means: "12", "FSK 16", "-12", "K16", "R15+", "TV-14", "PG-13"... -1 when unknown.
    static int ageOfRating(const QString &value);

public Q_SLOTS:
    /// Locks the session again (standby, or the viewer leaves the settings).
    void lock();

Q_SIGNALS:
    /// What is locked or hidden changed: models filter again.
    void changed();
    void attemptsChanged();
    void lockoutTick();
    /// A wrong PIN; `attemptsLeft` before the lockout (0: locked out now).
    void pinRejected(int attemptsLeft);

private:
    QByteArray hash(const QString &pin, const QByteArray &salt) const;
    void saveAttempts();
    void updateLockoutTimer();

    GuideStore *m_store;
    BoxSettings *m_settings;
    std::function<qint64()> m_clock;
    bool m_unlocked = false;
    int m_ratingLimit = 0;
    QSet<QString> m_lockedIds;
    int m_failed = 0;
    qint64 m_lockoutUntilMs = 0;
    QTimer m_lockoutTimer;
    mutable std::shared_ptr<const epg::Guide> m_agesOf; ///< the guide m_ages belongs to
    mutable QHash<quint32, int> m_ages;
};

} // namespace iptv::hubris
