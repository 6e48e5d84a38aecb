#pragma once

// Channel numbers typed with the digit keys, one piece of logic for live TV, the channel list
// and the guide: the digits accumulate (shown as "1__" while more may come) and are taken after a
// timeout, at once when no channel number can go on from them (leading zeros count: "01" may be
// 010) or as many digits as the longest number has are typed, or on OK; Back clears them. What a number does is the page's: live TV tunes it, the
// guide moves its focus to the channel's row.

#include "channellistmodel.h"

#include <QObject>
#include <QTimer>

namespace iptv::hubris {

class ChannelNumberEntry : public QObject
{
    Q_OBJECT
    /// The digits typed so far ("" when none).
    Q_PROPERTY(QString digits READ digits NOTIFY digitsChanged)
    /// What the on-screen display shows: the digits and a "_" for each that may still come.
    Q_PROPERTY(QString display READ display NOTIFY digitsChanged)
    Q_PROPERTY(bool active READ isActive NOTIFY digitsChanged)
public:
    explicit ChannelNumberEntry(const ChannelListModel *channels, QObject *parent = nullptr);

    QString digits() const { return m_digits; }
    QString display() const;
    bool isActive() const { return !m_digits.isEmpty(); }
    /// The most digits a channel number of the lineup has (at least 1).
    int maxDigits() const;
    /// How long the digits wait for the next one (default 2000 ms); a wait running starts again.
    void setTimeout(int ms) { m_timer.setInterval(ms); }
    int timeout() const { return m_timer.interval(); }

public Q_SLOTS:
    /// A digit key 0-9: taken at once when no channel number goes on from the digits.
    void digit(int d);
    /// Takes what the digits say now (OK while typing).
    void commit();
    /// Forgets the digits (Back while typing, another page).
    void clear();

Q_SIGNALS:
    void digitsChanged();
    /// The digits named the channel in model row `row`.
    void chosen(int row, int number);
    /// The digits named no channel of the lineup.
    void noSuchChannel(int number);

private:
    bool mayContinue(const QString &digits, int most) const;

    const ChannelListModel *m_channels;
    QString m_digits;
    QTimer m_timer;
};

} // namespace iptv::hubris
