#pragma once

// Releases and staged rollouts: inspect a signed bundle locally (manifest and signature state
// through libs/payload, before anything is sent), upload it, list releases and rollouts, start a
// rollout to a channel with group sizes and thresholds, follow its groups live ("rollouts"
// topic) and pause, resume or abort it.

#include "controlclient.h"
#include "jsontablemodel.h"

#include <QJsonObject>
#include <QObject>
#include <QStringList>

namespace iptv::cerberus {

/// What a bundle says about itself, read on this machine.
struct BundleInfo
{
    bool ok = false;
    QString error;          ///< why it could not be read
    QString path;
    QJsonObject manifest;   ///< version, channel, minBoxVersion, keyId, files, ...
    QString signature;      ///< not-checked | valid | invalid | unknown-key | missing
    QString signatureText;  ///< the same for people
    QString keyId;
    qint64 size = 0;
    int files = 0;
    qint64 payloadBytes = 0;
};

struct RolloutRequest
{
    QString version;
    QString channel = u"experimental"_qs;
    QList<double> groupPercents{1, 10, 50, 100}; ///< cumulative share after each group
    double successThreshold = 0.95;
    double errorThreshold = 0.05;
    int minResults = 20;
    bool force = false;
    bool startNow = true;
    QJsonObject toJson() const;
};

class ReleaseController : public QObject
{
    Q_OBJECT
public:
    ReleaseController(ControlClient *client, QObject *parent = nullptr);
    ~ReleaseController() override;

    JsonTableModel *releases() const { return m_releases; }
    JsonTableModel *rollouts() const { return m_rollouts; }
    /// The groups of the selected rollout.
    JsonTableModel *groups() const { return m_groups; }

    /// Public key files (iptv-payload's .pub) the console trusts when inspecting bundles.
    void setTrustedKeyFiles(const QStringList &paths) { m_keyFiles = paths; }
    /// Reads MANIFEST.json and MANIFEST.sig of a bundle file.
    BundleInfo inspect(const QString &path) const;

    void refresh();
    /// Follows "rollouts" while started.
    void start();
    void stop();
    bool upload(const QString &path);
    bool startRollout(const RolloutRequest &request);
    bool pause(const QString &rolloutId) { return action(rolloutId, u"pause"_qs); }
    bool resume(const QString &rolloutId) { return action(rolloutId, u"resume"_qs); }
    bool abort(const QString &rolloutId) { return action(rolloutId, u"abort"_qs); }
    /// Shows `rolloutId`'s groups in groups().
    void select(const QString &rolloutId);
    QString selected() const { return m_selected; }
    QJsonObject rollout(const QString &id) const;

Q_SIGNALS:
    void uploaded(const QJsonObject &release);
    /// The rollout list was (re)loaded.
    void refreshed();
    void rolloutStarted(const QJsonObject &rollout);
    void rolloutChanged(const QJsonObject &rollout);
    void failed(const QString &what, const iptv::cerberus::ApiError &error);
    /// Whether the server answers the release routes at all (older servers: 404).
    void availabilityChanged(bool available, const QString &why);

public:
    bool isAvailable() const { return m_available; }

private:
    void setAvailable(bool available, const QString &why);
    bool action(const QString &rolloutId, const QString &verb);
    void applyRollout(const QJsonObject &rollout);
    bool allowed(const QString &what);

    ControlClient *m_client;
    JsonTableModel *m_releases;
    JsonTableModel *m_rollouts;
    JsonTableModel *m_groups;
    QStringList m_keyFiles;
    QString m_selected;
    bool m_following = false;
    bool m_available = true;
};

} // namespace iptv::cerberus
