#include "channelnumberentry.h"

#include <QLoggingCategory>

Q_LOGGING_CATEGORY(lcNumberEntry, "iptv.hubris.numberentry", QtInfoMsg)

namespace iptv::hubris {

ChannelNumberEntry::ChannelNumberEntry(const ChannelListModel *channels, QObject *parent)
    : QObject(parent), m_channels(channels)
{
    m_timer.setSingleShot(true);
    m_timer.setInterval(2000);
    connect(&m_timer, &QTimer::timeout, this, &ChannelNumberEntry::commit);
}

int ChannelNumberEntry::maxDigits() const
{
    int most = 0;
    for (int row = 0; row < m_channels->rowCount(); ++row)
        most = qMax(most, m_channels->data(m_channels->index(row), ChannelListModel::NumberRole).toInt());
    return int(QString::number(most).size());
}

QString ChannelNumberEntry::display() const
{
    if (m_digits.isEmpty())
        return {};
    return m_digits + QString(qMax(0, maxDigits() - int(m_digits.size())), u'_');
}

bool ChannelNumberEntry::mayContinue(const QString &digits, int most) const
{
    // A longer number starts with these digits, also with leading zeros ("01" goes on to 010).
    for (int row = 0; row < m_channels->rowCount(); ++row) {
        const QString number = QString::number(m_channels->data(m_channels->index(row), ChannelListModel::NumberRole).toInt());
        for (int length = int(digits.size()) + 1; length <= most; ++length) {
            if (number.size() <= length && number.rightJustified(length, u'0').startsWith(digits))
                return true;
        }
    }
    return false;
}

void ChannelNumberEntry::digit(int d)
{
    if (d < 0 || d > 9)
        return;
    const int most = maxDigits();
    if (m_digits.size() >= most) // cannot happen after a commit, but a lineup may shrink meanwhile
        m_digits.clear();
    m_digits += QChar(u'0' + d);
    Q_EMIT digitsChanged();
    // Nothing longer can follow: take it now instead of after the timeout.
    if (m_digits.size() >= most || !mayContinue(m_digits, most)) {
        commit();
        return;
    }
    m_timer.start();
}

void ChannelNumberEntry::commit()
{
    m_timer.stop();
    if (m_digits.isEmpty())
        return;
    const int number = m_digits.toInt();
    m_digits.clear();
    Q_EMIT digitsChanged();
    const int row = m_channels->rowOfNumber(number);
    qCDebug(lcNumberEntry) << "number" << number << "row" << row;
    if (row < 0) {
        Q_EMIT noSuchChannel(number);
        return;
    }
    Q_EMIT chosen(row, number);
}

void ChannelNumberEntry::clear()
{
    m_timer.stop();
    if (m_digits.isEmpty())
        return;
    m_digits.clear();
    Q_EMIT digitsChanged();
}

} // namespace iptv::hubris
