#include "parentalcontrol.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QJsonArray>
#include <QLoggingCategory>
#include <QRandomGenerator>
#include <QRegularExpression>

Q_LOGGING_CATEGORY(lcParental, "iptv.hubris.parental", QtInfoMsg)

namespace iptv::hubris {

namespace {
const QString kHash = QStringLiteral("parental.pinHash");
const QString kSalt = QStringLiteral("parental.pinSalt");
const QString kRating = QStringLiteral("parental.ratingLimit");
const QString kChannels = QStringLiteral("parental.lockedChannels");
const QString kFailed = QStringLiteral("parental.failedAttempts");
const QString kLockoutUntil = QStringLiteral("parental.lockoutUntilMs");

bool isPin(const QString &pin)
{
    static const QRegularExpression fourDigits(QStringLiteral("^[0-9]{4}$"));
    return fourDigits.match(pin).hasMatch();
}
} // namespace

ParentalControl::ParentalControl(GuideStore *store, BoxSettings *settings, QObject *parent)
    : QObject(parent), m_store(store), m_settings(settings), m_clock([] { return QDateTime::currentMSecsSinceEpoch(); })
{
    m_ratingLimit = m_settings->value(kRating).toInt();
    for (const QJsonValue &v : m_settings->value(kChannels).toArray())
        m_lockedIds.insert(v.toString());
    m_failed = qBound(0, m_settings->value(kFailed).toInt(), kMaxAttempts);
    m_lockoutUntilMs = qint64(m_settings->value(kLockoutUntil).toDouble());
    m_lockoutTimer.setInterval(1000);
    connect(&m_lockoutTimer, &QTimer::timeout, this, &ParentalControl::updateLockoutTimer);
    connect(store, &GuideStore::guideChanged, this, &ParentalControl::changed); // new ratings, new channel indexes
    if (m_lockoutUntilMs > 0)
        m_lockoutTimer.start();
}

void ParentalControl::setClock(std::function<qint64()> msSinceEpoch)
{
    m_clock = std::move(msSinceEpoch);
    updateLockoutTimer();
}

QByteArray ParentalControl::hash(const QString &pin, const QByteArray &salt) const
{
    return QCryptographicHash::hash(QByteArray(salt + pin.toUtf8()), QCryptographicHash::Sha256).toHex();
}

bool ParentalControl::isDefaultPin() const
{
    return m_settings->value(kHash).toString().isEmpty();
}

int ParentalControl::lockoutSeconds() const
{
    const qint64 left = m_lockoutUntilMs - m_clock();
    return left <= 0 ? 0 : int((qMin<qint64>(left, kLockoutSeconds * 1000LL) + 999) / 1000);
}

void ParentalControl::updateLockoutTimer()
{
    if (m_lockoutUntilMs - m_clock() > kLockoutSeconds * 1000LL) {
        // Longer than a lockout can be: the clock went back. It ends its full length from now.
        m_lockoutUntilMs = m_clock() + kLockoutSeconds * 1000LL;
        saveAttempts();
    }
    if (m_lockoutUntilMs > 0 && lockoutSeconds() == 0) {
        // The lockout is over: five more tries.
        m_lockoutUntilMs = 0;
        m_failed = 0;
        saveAttempts();
        m_lockoutTimer.stop();
        Q_EMIT attemptsChanged();
        Q_EMIT lockoutTick();
        return;
    }
    if (m_lockoutUntilMs > 0 && !m_lockoutTimer.isActive())
        m_lockoutTimer.start();
    Q_EMIT lockoutTick();
}

void ParentalControl::saveAttempts()
{
    m_settings->setValue(kFailed, m_failed);
    m_settings->setValue(kLockoutUntil, m_lockoutUntilMs > 0 ? QJsonValue(double(m_lockoutUntilMs)) : QJsonValue());
}

bool ParentalControl::enterPin(const QString &pin)
{
    updateLockoutTimer();
    if (isLockedOut())
        return false;
    const QString stored = m_settings->value(kHash).toString();
    const bool right = stored.isEmpty() ? pin == kDefaultPin
                                        : hash(pin, QByteArray::fromHex(m_settings->value(kSalt).toString().toLatin1()))
                                              == stored.toLatin1();
    if (right) {
        if (m_failed != 0) {
            m_failed = 0;
            saveAttempts();
            Q_EMIT attemptsChanged();
        }
        if (!m_unlocked) {
            m_unlocked = true;
            Q_EMIT changed();
        }
        return true;
    }
    ++m_failed;
    if (m_failed >= kMaxAttempts) {
        m_failed = kMaxAttempts;
        m_lockoutUntilMs = m_clock() + kLockoutSeconds * 1000LL;
        qCWarning(lcParental) << kMaxAttempts << "wrong PINs in a row: PIN entry locked for" << kLockoutSeconds << "s";
    }
    saveAttempts();
    updateLockoutTimer();
    Q_EMIT attemptsChanged();
    Q_EMIT pinRejected(attemptsLeft());
    return false;
}

bool ParentalControl::changePin(const QString &pin)
{
    if (!m_unlocked || !isPin(pin))
        return false;
    QByteArray salt(16, Qt::Uninitialized);
    QRandomGenerator::system()->fillRange(reinterpret_cast<quint32 *>(salt.data()), salt.size() / 4);
    m_settings->setValue(kSalt, QString::fromLatin1(salt.toHex()));
    m_settings->setValue(kHash, QString::fromLatin1(hash(pin, salt)));
    Q_EMIT changed();
    return true;
}

bool ParentalControl::setRatingLimit(int age)
{
    if (!m_unlocked || age < 0 || age > 21)
        return false;
    if (age != m_ratingLimit) {
        m_ratingLimit = age;
        m_settings->setValue(kRating, age);
        Q_EMIT changed();
    }
    return true;
}

bool ParentalControl::stepRatingLimit(int step)
{
    const QList<int> choices = ratingChoices();
    int i = int(choices.indexOf(m_ratingLimit));
    i = qBound(0, (i < 0 ? 0 : i) + step, int(choices.size()) - 1);
    return setRatingLimit(choices.at(i));
}

bool ParentalControl::isChannelLocked(int channel) const
{
    if (m_lockedIds.isEmpty())
        return false; // the common case, asked for every grid cell: no channel id built
    const auto guide = m_store->guide();
    return guide && channel >= 0 && channel < guide->channelCount() && m_lockedIds.contains(guide->channelId(channel));
}

bool ParentalControl::toggleChannelLock(int channel)
{
    const auto guide = m_store->guide();
    if (!m_unlocked || !guide || channel < 0 || channel >= guide->channelCount())
        return false;
    const QString id = guide->channelId(channel);
    if (!m_lockedIds.remove(id))
        m_lockedIds.insert(id);
    QStringList ids(m_lockedIds.begin(), m_lockedIds.end());
    ids.sort();
    m_settings->setValue(kChannels, QJsonArray::fromStringList(ids));
    Q_EMIT changed();
    return true;
}

bool ParentalControl::hidesChannel(int channel) const
{
    return !m_unlocked && isChannelLocked(channel);
}

bool ParentalControl::hidesProgramme(quint32 programme) const
{
    if (m_unlocked || m_ratingLimit <= 0)
        return false;
    return programmeAge(programme) >= m_ratingLimit;
}

bool ParentalControl::blocksChannel(int channel) const
{
    if (m_unlocked)
        return false;
    if (hidesChannel(channel))
        return true;
    const auto guide = m_store->guide();
    if (!guide || m_ratingLimit <= 0 || channel < 0 || channel >= guide->channelCount())
        return false;
    const epg::Airing now = guide->airingAt(channel, m_store->now());
    return now.isValid() && hidesProgramme(now.programme);
}

int ParentalControl::programmeAge(quint32 programme) const
{
    const auto guide = m_store->guide();
    if (!guide || programme >= guide->programmeCount())
        return -1;
    if (guide != m_agesOf) {
        m_agesOf = guide;
        m_ages.clear();
    }
    if (const auto it = m_ages.constFind(programme); it != m_ages.constEnd())
        return it.value();
    epg::Airing a;
    a.programme = programme;
    int age = -1;
    for (const epg::Rating &r : guide->programmeRecord(a).ratings)
        age = qMax(age, ageOfRating(r.value));
    m_ages.insert(programme, age);
    return age;
}

int ParentalControl::ageOfRating(const QString &value)
{
    const QString v = value.trimmed().toUpper();
    // Letter ratings (US TV and film, UK, France, Spain, Greece); numbers are read below.
    static const QHash<QString, int> named = {
        {QStringLiteral("TV-Y"), 0},   {QStringLiteral("TV-Y7"), 7}, {QStringLiteral("TV-G"), 0},
        {QStringLiteral("TV-PG"), 10}, {QStringLiteral("TV-14"), 14}, {QStringLiteral("TV-MA"), 17},
        {QStringLiteral("G"), 0},      {QStringLiteral("PG"), 10},   {QStringLiteral("PG-13"), 13},
        {QStringLiteral("R"), 17},     {QStringLiteral("NC-17"), 18}, {QStringLiteral("X"), 18},
        {QStringLiteral("U"), 0},      {QStringLiteral("TP"), 0},    {QStringLiteral("TOUS PUBLICS"), 0},
        {QStringLiteral("K"), 0},      {QStringLiteral("ALL"), 0},
    };
    if (const auto it = named.constFind(v); it != named.constEnd())
        return it.value();
    static const QRegularExpression digits(QStringLiteral("[0-9]{1,2}"));
    const QRegularExpressionMatch m = digits.match(v);
    return m.hasMatch() ? m.captured().toInt() : -1;
}

void ParentalControl::lock()
{
    if (!m_unlocked)
        return;
    m_unlocked = false;
    Q_EMIT changed();
}

} // namespace iptv::hubris
