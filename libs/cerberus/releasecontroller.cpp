#include "releasecontroller.h"

#include <payload/bundle.h>

#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QLocale>

namespace iptv::cerberus {

namespace {

// The server's routes for releases and rollouts (server/controlserver/README.md).
const QString s_releases = u"/api/releases"_qs;
const QString s_rollouts = u"/api/rollouts"_qs;

QString rolloutColor(const QJsonObject &o)
{
    const QString s = o.value(u"state").toString();
    if (s == u"halted" || s == u"aborted")
        return u"#c0392b"_qs;
    if (s == u"completed")
        return u"#2ea043"_qs;
    if (s == u"paused")
        return u"#b86e00"_qs;
    return {};
}

QString progressText(const QJsonObject &o)
{
    const int total = o.value(u"total").toInt(o.value(u"size").toInt());
    const int ok = o.value(u"succeeded").toInt();
    const int bad = o.value(u"failed").toInt();
    const int busy = o.value(u"offered").toInt() + o.value(u"installing").toInt();
    if (total <= 0)
        return {};
    return QStringLiteral("%1 / %2 ok · %3 failed · %4 installing").arg(ok).arg(total).arg(bad).arg(busy);
}

} // namespace

QJsonObject RolloutRequest::toJson() const
{
    QJsonArray percents;
    for (double p : groupPercents)
        percents.append(p);
    return {{u"version"_qs, version},
            {u"channel"_qs, channel},
            {u"groups"_qs, QJsonObject{{u"percent"_qs, percents}}},
            {u"thresholds"_qs, QJsonObject{{u"successThreshold"_qs, successThreshold},
                                           {u"errorThreshold"_qs, errorThreshold},
                                           {u"minResults"_qs, minResults}}},
            {u"force"_qs, force},
            {u"start"_qs, startNow}};
}

ReleaseController::ReleaseController(ControlClient *client, QObject *parent)
    : QObject(parent), m_client(client)
{
    const QLocale locale;
    m_releases = new JsonTableModel(u"version"_qs,
                                    {{u"version"_qs, tr("Version")},
                                     {u"channel"_qs, tr("Channel")},
                                     {u"minBoxVersion"_qs, tr("Min. box version")},
                                     {u"size"_qs, tr("Size"),
                                      [locale](const QJsonObject &o) { return locale.formattedDataSize(o.value(u"size").toInteger()); }},
                                     {u"keyId"_qs, tr("Signed by")},
                                     {u"uploadedBy"_qs, tr("Uploaded by")},
                                     {u"uploadedAt"_qs, tr("Uploaded"),
                                      [](const QJsonObject &o) { return JsonTableModel::formatTime(o.value(u"uploadedAt").toInteger()); }}},
                                    this);
    m_rollouts = new JsonTableModel(u"id"_qs,
                                    {{u"id"_qs, tr("Rollout")},
                                     {u"version"_qs, tr("Version")},
                                     {u"channel"_qs, tr("Channel")},
                                     {u"state"_qs, tr("State"), {}, rolloutColor},
                                     {u"currentGroup"_qs, tr("Group"),
                                      [](const QJsonObject &o) {
                                          const int g = o.value(u"currentGroup").toInt(-1);
                                          const int n = int(o.value(u"groups").toArray().size());
                                          return g < 0 ? QString() : QStringLiteral("%1 of %2").arg(g + 1).arg(n);
                                      }},
                                     {u"progress"_qs, tr("Progress"), progressText},
                                     {u"reason"_qs, tr("Reason")}},
                                    this);
    m_groups = new JsonTableModel(u"index"_qs,
                                  {{u"index"_qs, tr("Group"), [](const QJsonObject &o) { return QString::number(o.value(u"index").toInt() + 1); }},
                                   {u"state"_qs, tr("State")},
                                   {u"size"_qs, tr("Boxes")},
                                   {u"required"_qs, tr("Needed")},
                                   {u"succeeded"_qs, tr("Succeeded")},
                                   {u"failed"_qs, tr("Failed")},
                                   {u"installing"_qs, tr("Installing"),
                                    [](const QJsonObject &o) { return QString::number(o.value(u"offered").toInt() + o.value(u"installing").toInt()); }},
                                   {u"pending"_qs, tr("Waiting")}},
                                  this);
    connect(client, &ControlClient::liveUpdate, this, [this](const QString &topic, const QJsonObject &u) {
        if (topic != u"rollouts")
            return;
        const QJsonObject r = u.value(u"rollout").isObject() ? u.value(u"rollout").toObject() : u;
        if (r.contains(u"id"))
            applyRollout(r);
        if (u.value(u"kind").toString() == u"release")
            refresh();
    });
    connect(client, &ControlClient::liveResynced, this, [this] {
        if (m_following)
            refresh();
    });
}

ReleaseController::~ReleaseController()
{
    stop();
}

BundleInfo ReleaseController::inspect(const QString &path) const
{
    BundleInfo info;
    info.path = path;
    QString keyError;
    const QList<iptv::payload::PublicKey> keys = iptv::payload::loadPublicKeys(m_keyFiles, &keyError);
    const iptv::payload::BundleResult r = iptv::payload::inspectBundle(path, keys);
    info.size = QFileInfo(path).size();
    if (!r.hasManifest) {
        info.error = r.status.toString();
        return info;
    }
    info.ok = true;
    info.manifest = r.manifest.toJsonObject();
    switch (r.signature) {
    case iptv::payload::SignatureState::NotChecked: info.signature = u"not-checked"_qs; break;
    case iptv::payload::SignatureState::Valid: info.signature = u"valid"_qs; break;
    case iptv::payload::SignatureState::Invalid: info.signature = u"invalid"_qs; break;
    case iptv::payload::SignatureState::UnknownKey: info.signature = u"unknown-key"_qs; break;
    case iptv::payload::SignatureState::Missing: info.signature = u"missing"_qs; break;
    }
    info.signatureText = iptv::payload::signatureStateName(r.signature);
    info.keyId = r.signatureKeyId;
    info.files = int(r.manifest.files.size());
    info.payloadBytes = r.manifest.totalSize;
    if (!keyError.isEmpty())
        info.error = tr("trusted keys: %1").arg(keyError);
    return info;
}

void ReleaseController::setAvailable(bool available, const QString &why)
{
    if (available == m_available)
        return;
    m_available = available;
    Q_EMIT availabilityChanged(available, why);
}

bool ReleaseController::allowed(const QString &what)
{
    if (m_client->permissions()->canManageReleases())
        return true;
    Q_EMIT failed(what, {403, u"forbidden"_qs, tr("releases and rollouts need the admin role")});
    return false;
}

void ReleaseController::start()
{
    if (!m_following) {
        m_client->addTopic(u"rollouts"_qs);
        m_following = true;
    }
    refresh();
}

void ReleaseController::stop()
{
    if (m_following) {
        m_client->removeTopic(u"rollouts"_qs);
        m_following = false;
    }
}

void ReleaseController::refresh()
{
    m_client->get(s_releases, {}, this, [this](const ApiReply &r) {
        if (r.status == 404 || r.status == 405) {
            setAvailable(false, tr("this control server has no release API (GET %1: %2)").arg(s_releases, r.error.message));
            return;
        }
        if (!r.ok())
            return;
        setAvailable(true, {});
        QList<QJsonObject> rows;
        for (const QJsonValue &v : r.json.value(u"items").toArray())
            rows.append(v.toObject());
        m_releases->setRows(rows);
    });
    m_client->get(s_rollouts, {}, this, [this](const ApiReply &r) {
        if (!r.ok())
            return;
        QList<QJsonObject> rows;
        for (const QJsonValue &v : r.json.value(u"items").toArray())
            rows.append(v.toObject());
        std::sort(rows.begin(), rows.end(), [](const QJsonObject &a, const QJsonObject &b) {
            return a.value(u"id").toVariant().toLongLong() > b.value(u"id").toVariant().toLongLong();
        });
        m_rollouts->setRows(rows);
        if (m_selected.isEmpty() && !rows.isEmpty())
            select(rows.first().value(u"id").toVariant().toString());
        else if (!m_selected.isEmpty())
            select(m_selected);
        Q_EMIT refreshed();
    });
}

bool ReleaseController::upload(const QString &path)
{
    const QString what = tr("Upload %1").arg(QFileInfo(path).fileName());
    if (!allowed(what))
        return false;
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        Q_EMIT failed(what, {0, u"file"_qs, tr("%1: %2").arg(path, f.errorString())});
        return false;
    }
    m_client->postData(s_releases, f.readAll(), "application/octet-stream", this, [this, what](const ApiReply &r) {
        if (!r.ok()) {
            Q_EMIT failed(what, r.error);
            return;
        }
        const QJsonObject release = r.json.value(u"release").isObject() ? r.json.value(u"release").toObject() : r.json;
        m_releases->upsert(release, true);
        Q_EMIT uploaded(release);
    });
    return true;
}

bool ReleaseController::startRollout(const RolloutRequest &request)
{
    const QString what = tr("Roll out %1 to %2").arg(request.version, request.channel);
    if (!allowed(what))
        return false;
    m_client->post(s_rollouts, request.toJson(), this, [this, what, request](const ApiReply &r) {
        if (!r.ok()) {
            Q_EMIT failed(what, r.error);
            return;
        }
        const QJsonObject rollout = r.json.value(u"rollout").isObject() ? r.json.value(u"rollout").toObject() : r.json;
        applyRollout(rollout);
        const QString id = rollout.value(u"id").toVariant().toString();
        select(id);
        Q_EMIT rolloutStarted(rollout);
        if (request.startNow && rollout.value(u"state").toString() == u"draft")
            action(id, u"start"_qs);
    });
    return true;
}

bool ReleaseController::action(const QString &rolloutId, const QString &verb)
{
    const QString what = tr("%1 rollout %2").arg(verb, rolloutId);
    if (!allowed(what))
        return false;
    m_client->post(s_rollouts + u'/' + rolloutId + u'/' + verb, {}, this, [this, what](const ApiReply &r) {
        if (!r.ok()) {
            Q_EMIT failed(what, r.error);
            return;
        }
        const QJsonObject rollout = r.json.value(u"rollout").isObject() ? r.json.value(u"rollout").toObject() : r.json;
        if (rollout.contains(u"id"))
            applyRollout(rollout);
    });
    return true;
}

void ReleaseController::applyRollout(const QJsonObject &rollout)
{
    const QString id = rollout.value(u"id").toVariant().toString();
    const bool isNew = m_rollouts->rowOf(rollout.value(u"id")) < 0;
    m_rollouts->upsert(rollout, isNew);
    if (id == m_selected) {
        QList<QJsonObject> rows;
        for (const QJsonValue &v : this->rollout(id).value(u"groups").toArray())
            rows.append(v.toObject());
        m_groups->setRows(rows);
    }
    Q_EMIT rolloutChanged(this->rollout(id));
}

void ReleaseController::select(const QString &rolloutId)
{
    if (rolloutId != m_selected)
        m_groups->clear();
    m_selected = rolloutId;
    QList<QJsonObject> rows;
    for (const QJsonValue &v : rollout(rolloutId).value(u"groups").toArray())
        rows.append(v.toObject());
    m_groups->setRows(rows);
}

QJsonObject ReleaseController::rollout(const QString &id) const
{
    for (int i = 0; i < m_rollouts->rowCount(); ++i) {
        const QJsonObject o = m_rollouts->rowObject(i);
        if (o.value(u"id").toVariant().toString() == id)
            return o;
    }
    return {};
}

} // namespace iptv::cerberus
