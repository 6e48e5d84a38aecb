#include "updateinstaller.h"

#include "boxlink.h"
#include "credentialstore.h"

#include <payload/version.h>

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QSaveFile>
#include <QtConcurrent/QtConcurrentRun>

namespace iptv::boxlink {

Q_LOGGING_CATEGORY(lcInstall, "iptv.boxlink.install")

using namespace iptv::protocol;

struct UpdateInstaller::Job
{
    ReleaseAvailable release;
    CommandReply reply;
    QPointer<QNetworkReply> download;
    QFile file;
    QCryptographicHash hash{QCryptographicHash::Sha256};
    qint64 received = 0;
    qint64 limit = 0;
    QString error;
};

UpdateInstaller::UpdateInstaller(InstallerConfig config, CredentialStore *store, QNetworkAccessManager *network,
                                 QObject *parent)
    : QObject(parent), m_config(std::move(config)), m_store(store), m_network(network)
{
    if (!m_network)
        m_network = new QNetworkAccessManager(this);
    QString error;
    if (!loadState(&error)) {
        m_lastError = error;
        qCWarning(lcInstall).noquote() << error;
    }
    connect(&m_unpack, &QFutureWatcher<payload::BundleResult>::finished, this, &UpdateInstaller::unpacked);
}

UpdateInstaller::~UpdateInstaller()
{
    if (m_job && m_job->download)
        m_job->download->abort();
    m_unpack.waitForFinished();
}

QString UpdateInstaller::slotsDir() const
{
    return QDir(m_config.stateDir).filePath(QStringLiteral("slots"));
}

QString UpdateInstaller::slotPath(const QString &version) const
{
    return version.isEmpty() ? QString() : QDir(slotsDir()).filePath(version);
}

void UpdateInstaller::attach(BoxLink *link)
{
    m_link = link;
    connect(link, &BoxLink::releaseAvailable, this,
            [this](const ReleaseAvailable &release) { install(release); });
}

// ---- state file

bool UpdateInstaller::loadState(QString *error)
{
    QFile file(QDir(slotsDir()).filePath(QStringLiteral("state.json")));
    if (!file.exists())
        return true;
    if (!file.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("%1: cannot read: %2").arg(file.fileName(), file.errorString());
        return false;
    }
    QJsonParseError parseError;
    const QJsonObject o = QJsonDocument::fromJson(file.read(64 * 1024), &parseError).object();
    if (parseError.error != QJsonParseError::NoError) {
        *error = QStringLiteral("%1: %2; starting with no slots").arg(file.fileName(), parseError.errorString());
        return false;
    }
    // A slot named in the state but gone from the disk is forgotten (someone cleaned up by hand).
    const auto slot = [this, &o](const char *key) {
        const QString v = o.value(QLatin1String(key)).toString();
        return payload::isValidVersion(v) && QDir(slotPath(v)).exists() ? v : QString();
    };
    m_current = slot("current");
    m_previous = slot("previous");
    m_pending = slot("pending");
    m_bootAttempts = o.value(QLatin1String("bootAttempts")).toInt();
    return true;
}

bool UpdateInstaller::saveState(QString *error)
{
    if (!QDir().mkpath(slotsDir())) {
        *error = QStringLiteral("%1: cannot create").arg(slotsDir());
        return false;
    }
    const QJsonObject o{{QStringLiteral("current"), m_current},
                        {QStringLiteral("previous"), m_previous},
                        {QStringLiteral("pending"), m_pending},
                        {QStringLiteral("bootAttempts"), m_bootAttempts}};
    QSaveFile file(QDir(slotsDir()).filePath(QStringLiteral("state.json")));
    if (!file.open(QIODevice::WriteOnly) || file.write(QJsonDocument(o).toJson()) < 0 || !file.commit()) {
        *error = QStringLiteral("%1: cannot write: %2").arg(file.fileName(), file.errorString());
        return false;
    }
    return true;
}

void UpdateInstaller::pruneSlots()
{
    // Bounded storage: the current and the previous slot (and a pending one) stay, nothing else.
    const QStringList keep{m_current, m_previous, m_pending};
    const QDir dir(slotsDir());
    for (const QString &name : dir.entryList(QDir::Dirs | QDir::NoDotAndDotDot | QDir::Hidden)) {
        if (keep.contains(name))
            continue;
        QDir(dir.filePath(name)).removeRecursively();
    }
    for (const QString &name : dir.entryList({QStringLiteral(".download-*")}, QDir::Files | QDir::Hidden)) {
        if (!m_job || m_job->file.fileName() != dir.filePath(name))
            QFile::remove(dir.filePath(name));
    }
}

// ---- reporting

void UpdateInstaller::report(const InstallReport &r, const QString &text)
{
    if (r.ok)
        qCInfo(lcInstall).noquote() << InstallReport::phaseName(r.phase) << r.version << text;
    else
        qCWarning(lcInstall).noquote() << InstallReport::phaseName(r.phase) << r.version << text;
    if (m_link)
        m_link->sendEvent(r.toEvent(text));
}

// ---- install

void UpdateInstaller::install(const ReleaseAvailable &release)
{
    install(release, CommandReply());
}

void UpdateInstaller::execute(const Command &command, const CommandReply &reply)
{
    QString error;
    const auto release = ReleaseAvailable::fromBody(command.args, &error);
    if (!release) {
        reply.fail(QStringLiteral("install-release: %1").arg(error));
        return;
    }
    install(*release, reply);
}

void UpdateInstaller::install(const ReleaseAvailable &release, const CommandReply &reply)
{
    const auto refuse = [&](const QString &text) {
        report(InstallReport{InstallReport::Phase::Failed, release.version, false, release.rolloutId}, text);
        reply.fail(text);
        Q_EMIT installFinished(false, release.version, text);
    };
    if (m_busy) {
        refuse(QStringLiteral("%1: another install is running").arg(release.version));
        return;
    }
    if (!payload::isValidVersion(release.version)) {
        refuse(QStringLiteral("\"%1\" is not a version").arg(release.version.left(64)));
        return;
    }
    if (release.version == m_current || release.version == m_pending) {
        const QString text = QStringLiteral("%1 is already %2").arg(release.version,
                                                                     release.version == m_current ? QStringLiteral("installed")
                                                                                                  : QStringLiteral("pending"));
        // Offered again what already passed its health check (the first committed event can be
        // lost when the box restarts before it reaches the server): say so, or the rollout waits
        // for a result that never comes. A pending version reports when its check decides.
        if (release.version == m_current)
            report(InstallReport{InstallReport::Phase::Committed, release.version, true, release.rolloutId}, text);
        reply.succeed(text);
        Q_EMIT installFinished(true, release.version, text);
        return;
    }
    if (release.force && release.version == m_previous) {
        // An operator's rollback to the release before: its slot is still here and was verified
        // when it was installed, so it becomes pending again without a download.
        const QString replaced = m_pending;
        m_pending = m_previous;
        m_bootAttempts = 0;
        QString error;
        if (!saveState(&error)) {
            m_pending = replaced;
            refuse(error);
            return;
        }
        pruneSlots();
        const QString text = QStringLiteral("%1 (the previous slot) is pending again").arg(release.version);
        report(InstallReport{InstallReport::Phase::Installed, release.version, true, release.rolloutId}, text);
        reply.succeed(text);
        Q_EMIT installFinished(true, release.version, text);
        return;
    }
    if (!release.force && !m_current.isEmpty() && payload::compareVersions(release.version, m_current) <= 0) {
        refuse(QStringLiteral("NotNewer: %1 is not above the installed %2").arg(release.version, m_current));
        return;
    }
    const QUrl url(release.url);
    if (!url.isValid() || (url.scheme() != QLatin1String("http") && url.scheme() != QLatin1String("https"))) {
        refuse(QStringLiteral("%1: \"%2\" is not an http(s) URL").arg(release.version, release.url.left(200)));
        return;
    }
    if (release.size > m_config.maxBundleBytes) {
        refuse(QStringLiteral("TooLarge: %1 is %2 bytes, over this box's %3").arg(release.version).arg(release.size).arg(m_config.maxBundleBytes));
        return;
    }
    QString error;
    if (!QDir().mkpath(slotsDir())) {
        refuse(QStringLiteral("%1: cannot create").arg(slotsDir()));
        return;
    }

    m_busy = true;
    m_job = std::make_unique<Job>();
    m_job->release = release;
    m_job->reply = reply;
    m_job->limit = release.size > 0 ? release.size : m_config.maxBundleBytes;
    m_job->file.setFileName(QDir(slotsDir()).filePath(QStringLiteral(".download-%1").arg(release.version)));
    if (!m_job->file.open(QIODevice::WriteOnly | QIODevice::Truncate)) {
        const QString text = QStringLiteral("%1: cannot write: %2").arg(m_job->file.fileName(), m_job->file.errorString());
        m_busy = false;
        m_job.reset();
        refuse(text);
        return;
    }
    report(InstallReport{InstallReport::Phase::Started, release.version, true, release.rolloutId},
           QStringLiteral("downloading %1").arg(release.version));

    Q_EMIT stageChanged(release.version, Stage::Downloading);
    QNetworkRequest request(url);
    const QByteArray token = m_store ? m_store->token() : QByteArray();
    if (!token.isEmpty())
        request.setRawHeader("Authorization",
                             "Bearer " + token.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals));
    request.setTransferTimeout(m_config.downloadTimeoutMs);
    QNetworkReply *download = m_network->get(request);
    m_job->download = download;
    connect(download, &QNetworkReply::readyRead, this, [this, download] {
        if (!m_job || m_job->download != download)
            return;
        const QByteArray chunk = download->readAll();
        m_job->received += chunk.size();
        if (m_job->received > m_job->limit) {
            // The server promised `size`; more is a wrong file or an attack on the box's storage.
            m_job->error = QStringLiteral("TooLarge: more than %1 bytes").arg(m_job->limit);
            download->abort();
            return;
        }
        m_job->hash.addData(chunk);
        if (m_job->file.write(chunk) != chunk.size()) {
            m_job->error = QStringLiteral("%1: cannot write: %2").arg(m_job->file.fileName(), m_job->file.errorString());
            download->abort();
            return;
        }
        Q_EMIT downloadProgress(m_job->release.version, m_job->received, qMax<qint64>(0, m_job->release.size));
    });
    connect(download, &QNetworkReply::finished, this, &UpdateInstaller::downloaded);
}

void UpdateInstaller::downloaded()
{
    if (!m_job || !m_job->download)
        return;
    QNetworkReply *download = m_job->download;
    download->deleteLater();
    m_job->download = nullptr;
    m_job->file.close();
    const ReleaseAvailable &release = m_job->release;
    if (!m_job->error.isEmpty()) {
        finishJob(false, QStringLiteral("download of %1: %2").arg(release.version, m_job->error));
        return;
    }
    const int status = download->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (download->error() != QNetworkReply::NoError || status != 200) {
        finishJob(false, QStringLiteral("download of %1 from %2: HTTP %3: %4")
                             .arg(release.version, release.url)
                             .arg(status)
                             .arg(download->errorString()));
        return;
    }
    if (release.size > 0 && m_job->received != release.size) {
        finishJob(false, QStringLiteral("SizeMismatch: %1 is %2 bytes, the release says %3")
                             .arg(release.version)
                             .arg(m_job->received)
                             .arg(release.size));
        return;
    }
    if (!release.sha256.isEmpty() && m_job->hash.result() != release.sha256) {
        finishJob(false, QStringLiteral("HashMismatch: the bundle of %1 has SHA-256 %2, the release says %3")
                             .arg(release.version, QString::fromLatin1(m_job->hash.result().toHex()),
                                  QString::fromLatin1(release.sha256.toHex())));
        return;
    }
    // A leftover directory of an earlier failed or rolled-back attempt is not a slot in use.
    const QString target = slotPath(release.version);
    if (release.version != m_current && release.version != m_previous)
        QDir(target).removeRecursively();
    else {
        finishJob(false, QStringLiteral("%1 is a slot in use").arg(release.version));
        return;
    }
    // Verifying and unpacking hashes every file: off the event loop, so the link keeps talking.
    Q_EMIT stageChanged(release.version, Stage::Verifying);
    const QString bundle = m_job->file.fileName();
    const QList<payload::PublicKey> keys = m_config.trustedKeys;
    const payload::Limits limits = m_config.limits;
    m_unpack.setFuture(QtConcurrent::run([bundle, keys, target, limits] {
        return payload::unpackBundle(bundle, keys, target, limits);
    }));
}

void UpdateInstaller::unpacked()
{
    if (!m_job)
        return;
    const payload::BundleResult result = m_unpack.result();
    const ReleaseAvailable &release = m_job->release;
    QFile::remove(m_job->file.fileName());
    if (!result.ok()) {
        finishJob(false, QStringLiteral("%1 refused: %2").arg(release.version, result.status.toString()));
        return;
    }
    const auto discard = [this, &release](const QString &text) {
        QDir(slotPath(release.version)).removeRecursively();
        finishJob(false, text);
    };
    if (result.manifest.version != release.version) {
        discard(QStringLiteral("the bundle is version %1, the release says %2").arg(result.manifest.version, release.version));
        return;
    }
    if (!release.force) {
        const payload::PayloadStatus upgrade = payload::checkUpgrade(result.manifest, m_config.boxVersion, m_current);
        if (!upgrade.ok()) {
            discard(QStringLiteral("%1 refused: %2").arg(release.version, upgrade.toString()));
            return;
        }
    }
    Q_EMIT stageChanged(release.version, Stage::Installing);
    // A pending slot that never booted is replaced by the newer one.
    const QString replaced = m_pending;
    m_pending = release.version;
    m_bootAttempts = 0;
    QString error;
    if (!saveState(&error)) {
        m_pending = replaced;
        discard(error);
        return;
    }
    pruneSlots();
    finishJob(true, QStringLiteral("installed %1 into a new slot; it starts on the next restart and is kept after a "
                                   "health check").arg(release.version));
}

void UpdateInstaller::finishJob(bool ok, const QString &text)
{
    std::unique_ptr<Job> job = std::move(m_job);
    m_busy = false;
    if (!ok)
        QFile::remove(job->file.fileName());
    report(InstallReport{ok ? InstallReport::Phase::Installed : InstallReport::Phase::Failed, job->release.version, ok,
                         job->release.rolloutId},
           text);
    if (ok)
        job->reply.succeed(text);
    else
        job->reply.fail(text);
    Q_EMIT installFinished(ok, job->release.version, text);
}

// ---- boot, commit, rollback

QString UpdateInstaller::beginBoot()
{
    QString error;
    if (!m_pending.isEmpty()) {
        if (m_bootAttempts >= m_config.maxBootAttempts) {
            rollback(QStringLiteral("%1 did not pass its health check in %2 starts").arg(m_pending).arg(m_bootAttempts));
            return slotPath(m_current);
        }
        ++m_bootAttempts;
        // Counted before the slot runs: a crash during the start must count too.
        if (!saveState(&error))
            qCWarning(lcInstall).noquote() << error;
        return slotPath(m_pending);
    }
    return slotPath(m_current);
}

bool UpdateInstaller::commit(QString *error)
{
    if (m_pending.isEmpty()) {
        if (error)
            *error = QStringLiteral("nothing pending to commit");
        return false;
    }
    const QString oldCurrent = m_current, oldPrevious = m_previous, version = m_pending;
    m_previous = m_current;
    m_current = m_pending;
    m_pending.clear();
    const int attempts = m_bootAttempts;
    m_bootAttempts = 0;
    QString why;
    if (!saveState(&why)) {
        m_current = oldCurrent;
        m_previous = oldPrevious;
        m_pending = version;
        m_bootAttempts = attempts;
        if (error)
            *error = why;
        return false;
    }
    pruneSlots();
    InstallReport committedReport{InstallReport::Phase::Committed, version, true};
    committedReport.previous = m_previous;
    report(committedReport, QStringLiteral("%1 passed its health check and is now current").arg(version));
    Q_EMIT committed(version);
    return true;
}

bool UpdateInstaller::rollback(const QString &reason, QString *error)
{
    QString from, to;
    const QString oldCurrent = m_current, oldPrevious = m_previous, oldPending = m_pending;
    if (!m_pending.isEmpty()) {
        from = m_pending;
        to = m_current;
        m_pending.clear();
    } else if (!m_previous.isEmpty()) {
        from = m_current;
        to = m_previous;
        m_current = m_previous;
        m_previous.clear();
    } else {
        if (error)
            *error = QStringLiteral("no slot to roll back to");
        return false;
    }
    m_bootAttempts = 0;
    QString why;
    if (!saveState(&why)) {
        m_current = oldCurrent;
        m_previous = oldPrevious;
        m_pending = oldPending;
        if (error)
            *error = why;
        return false;
    }
    pruneSlots(); // the slot rolled back from is deleted: it failed
    InstallReport gaveUp{InstallReport::Phase::RolledBack, from, false};
    gaveUp.rolledBackTo = to;
    report(gaveUp,
           QStringLiteral("rolled back from %1 to %2: %3").arg(from, to.isEmpty() ? QStringLiteral("the built-in version") : to, reason));
    Q_EMIT rolledBack(from, to, reason);
    return true;
}

} // namespace iptv::boxlink
