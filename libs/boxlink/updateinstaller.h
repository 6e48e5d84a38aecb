#pragma once

// Release install on the box: download a signed payload bundle over HTTP (the box token as Bearer,
// a size limit, the announced sha256), verify and unpack it with libs/payload against the trusted
// keys into a new slot (<stateDir>/slots/<version>), and mark it pending. The app boots the
// pending slot on trial (beginBoot), and commits it after its health check passes, or rolls back
// to the current slot; a slot that fails to start maxBootAttempts times is rolled back by itself.
// Only the current and the previous slot are kept.
//
// State survives restarts in <stateDir>/slots/state.json, written atomically.

#include <payload/bundle.h>
#include <payload/keys.h>
#include <protocol/message.h>

#include <QFutureWatcher>
#include <QObject>
#include <QPointer>

#include <memory>

class QCryptographicHash;
class QFile;
class QNetworkAccessManager;
class QNetworkReply;

namespace iptv::boxlink {

class BoxLink;
class CommandReply;
class CredentialStore;

struct InstallerConfig
{
    QString stateDir;
    QList<payload::PublicKey> trustedKeys;
    QString boxVersion;                         ///< the box's own (firmware) version, for minBoxVersion
    qint64 maxBundleBytes = 256LL * 1024 * 1024;
    int maxBootAttempts = 3;                    ///< trial boots of a pending slot before the automatic rollback
    int downloadTimeoutMs = 10 * 60 * 1000;
    payload::Limits limits;
};

class UpdateInstaller : public QObject
{
    Q_OBJECT

public:
    /// Where a running install is, for a progress screen.
    enum class Stage { Downloading, Verifying, Installing };
    Q_ENUM(Stage)

    /// `store` gives the Bearer token for downloads; `network` may be shared (null: its own).
    UpdateInstaller(InstallerConfig config, CredentialStore *store, QNetworkAccessManager *network = nullptr,
                    QObject *parent = nullptr);
    ~UpdateInstaller() override;

    /// Installs on ReleaseAvailable and reports installs, commits and rollbacks as BoxEvents on `link`.
    void attach(BoxLink *link);

    QString currentVersion() const { return m_current; }
    QString previousVersion() const { return m_previous; }
    QString pendingVersion() const { return m_pending; }
    int bootAttempts() const { return m_bootAttempts; }
    bool isBusy() const { return m_busy; }
    QString slotsDir() const;
    QString slotPath(const QString &version) const;
    /// False (with the reason) when the state file could not be read at construction.
    QString lastError() const { return m_lastError; }

    /// Downloads, verifies and unpacks `release` into a pending slot. The outcome goes to
    /// installFinished(), to `reply` (an InstallRelease command) and as an "install" BoxEvent.
    void install(const protocol::ReleaseAvailable &release, const CommandReply &reply);
    void install(const protocol::ReleaseAvailable &release);
    /// Runs an InstallRelease command (its args are a ReleaseAvailable body).
    void execute(const protocol::Command &command, const CommandReply &reply);

    /// The slot the app should start now: the pending one on trial (counted), or the current one
    /// (empty when nothing was ever installed: the app runs what it was built with). After
    /// maxBootAttempts trials without commit() the pending slot is rolled back here.
    QString beginBoot();
    /// The pending slot passed the app's health check: it becomes current, the old current previous.
    bool commit(QString *error = nullptr);
    /// Drops the pending slot; with none pending, goes back to the previous slot.
    bool rollback(const QString &reason, QString *error = nullptr);

Q_SIGNALS:
    /// An install moved on: downloading (then downloadProgress), verifying (sizes, hashes and the
    /// signature, off the event loop), installing (the slot becomes pending); installFinished ends it.
    void stageChanged(const QString &version, iptv::boxlink::UpdateInstaller::Stage stage);
    /// `total` is the announced size (0 when unknown).
    void downloadProgress(const QString &version, qint64 received, qint64 total);
    void installFinished(bool ok, const QString &version, const QString &text);
    void committed(const QString &version);
    void rolledBack(const QString &from, const QString &to, const QString &reason);

private:
    struct Job;
    void fail(const QString &text, payload::PayloadError code = payload::PayloadError::None);
    void downloaded();
    void unpacked();
    void finishJob(bool ok, const QString &text);
    bool loadState(QString *error);
    bool saveState(QString *error);
    void pruneSlots();
    void report(const protocol::InstallReport &report, const QString &text);

    InstallerConfig m_config;
    CredentialStore *m_store;
    QNetworkAccessManager *m_network;
    QPointer<BoxLink> m_link;
    QString m_current, m_previous, m_pending;
    int m_bootAttempts = 0;
    bool m_busy = false;
    QString m_lastError;
    std::unique_ptr<Job> m_job;
    QFutureWatcher<payload::BundleResult> m_unpack;
};

} // namespace iptv::boxlink
