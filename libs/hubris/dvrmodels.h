#pragma once

// What the box shows of the network DVR (diver): the viewer's library of recordings and the
// upcoming plan with the airings left out (conflicts and the like) and why. DvrClient fills both
// from diver's JSON; rows are matched by key so a refresh moves, inserts and updates rows instead
// of resetting the list the viewer is scrolling through.

#include <QAbstractListModel>
#include <QJsonArray>
#include <QJsonObject>
#include <QList>
#include <QtQml/qqmlregistration.h>

namespace iptv::hubris {

/// One recording of the viewer's library (GET /api/recordings).
struct DvrRecording
{
    qint64 id = 0;
    QString title;
    QString channel;     ///< guide channel id
    QString channelName;
    qint64 start = 0;    ///< the airing, UTC seconds
    qint64 stop = 0;
    qint64 recordStart = 0; ///< what is recorded (padding, or begun while on): the playlist's start
    qint64 recordStop = 0;
    QString state;       ///< recording, finished, failed; partial (an archived channel whose archive stopped short)
    QString reason;      ///< why it failed or has gaps (partial: up to when the archive holds it)
    QList<QPair<qint64, qint64>> missing; ///< what the archive lacks of it, UTC seconds [from, to) (diver's `missing`)
    bool kept = false;
    qint64 keepUntil = 0; ///< retention deletes it then (UTC seconds); 0: not by date
    qint64 position = 0; ///< resume point, seconds from the start
    qint64 segments = 0;
    QString playlist;    ///< HLS URL with its playback token (?playback=), playable without a header

    static DvrRecording fromJson(const QJsonObject &o);
    bool operator==(const DvrRecording &) const = default;
};

/// One line of the upcoming plan: an airing that will be recorded, or one that will not and why.
struct DvrUpcoming
{
    qint64 rule = 0;
    QString ruleKind;     ///< the rule's kind: "single", "title", "series-id", "regex" ("" from a diver before it said)
    QString title;
    QString channel;
    QString channelName;
    qint64 start = 0;
    qint64 stop = 0;
    bool planned = true;
    QString reason;       ///< skipped only: conflict, duplicate, keep-limit, ...
    QString detail;       ///< skipped only: diver's sentence
    QString why;          ///< skipped only: the same in a few words (skippedReasonText())
    QString alternatives; ///< skipped only: other airings that could be recorded, one a line
    QString alternativeChannel; ///< the first of them (what green records instead): guide channel id
    qint64 alternativeStart = 0;
    QString alternative;  ///< the first of them for the viewer: "Sun 6 Dec 21:00–22:00 on One"

    static DvrUpcoming plannedFromJson(const QJsonObject &o);
    static DvrUpcoming skippedFromJson(const QJsonObject &o);
    QString key() const { return QStringLiteral("%1|%2|%3").arg(rule).arg(channel).arg(start); }
    bool operator==(const DvrUpcoming &) const = default;
};

/// Makes `model`'s rows (`items`) equal `next` with removals, inserts, moves and dataChanged only,
/// matching rows by `keyOf`: never a reset, so a view keeps its focus and place. Both DVR models
/// use it (declared their friend: it calls the protected row functions).
template <typename Model, typename T, typename KeyOf>
void replaceRows(Model *model, QList<T> &items, const QList<T> &next, KeyOf keyOf);

/// "Sat 6 Dec 07:00–08:00" in local time.
QString formatAiringTime(qint64 start, qint64 stop);
/// Why diver left an airing out (one of its "skipped"), for the viewer: a conflict names what
/// is in the way and where the episode fits; else diver's detail.
QString skippedReasonText(const QJsonObject &skipped);
/// The airings a new rule leaves out (diver's "skipped"), for the viewer's toast: one in a few
/// words (skippedReasonText()); several by reason ("repeats", "12 repeats, 2 conflicts, …").
QString skippedSummaryText(const QJsonArray &skipped);

class DvrRecordingsModel : public QAbstractListModel
{
    Q_OBJECT
    QML_NAMED_ELEMENT(DvrRecordings)
    QML_UNCREATABLE("DvrClient owns it")
    Q_PROPERTY(int count READ rowCount NOTIFY countChanged)
public:
    enum Role {
        IdRole = Qt::UserRole + 1, TitleRole, ChannelRole, ChannelNameRole, StartRole, StopRole, WhenRole,
        StateRole, ReasonRole, KeptRole, PositionRole, DurationRole, PlaylistRole, RecordStartRole, MissingRole,
        KeepUntilRole, KeepTextRole
    };
    Q_ENUM(Role)

    using QAbstractListModel::QAbstractListModel;
    /// What a recording lacks, for the viewer: "19:21–19:25, 19:40–19:45" in local time (the
    /// day too when it is not the recording's): "" when nothing is missing.
    static QString missingText(const DvrRecording &r);
    /// What retention does with it, for the viewer's row: "kept until Mon 14 Dec" (kept, with a
    /// keep-until), "to be deleted Mon 14 Dec" (a keep-until, not kept: the operator's default or the
    /// viewer's), "kept" (until the viewer deletes it), or "" (keep-N and free space may take it).
    static QString keepText(const DvrRecording &r);
    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;

    /// Makes the rows equal `items` (newest first as diver sends them) with inserts, removals,
    /// moves and dataChanged only.
    void setItems(const QList<DvrRecording> &items);
    const QList<DvrRecording> &items() const { return m_items; }
    /// The row of recording `id`, -1 when not in the library.
    Q_INVOKABLE int rowOf(qint64 id) const;
    /// Every role of `row` as a map (for the page that plays it).
    Q_INVOKABLE QVariantMap get(int row) const;

Q_SIGNALS:
    void countChanged();

private:
    template <typename Model, typename T, typename KeyOf>
    friend void replaceRows(Model *, QList<T> &, const QList<T> &, KeyOf);
    QList<DvrRecording> m_items;
};

class DvrUpcomingModel : public QAbstractListModel
{
    Q_OBJECT
    QML_NAMED_ELEMENT(DvrUpcoming)
    QML_UNCREATABLE("DvrClient owns it")
    Q_PROPERTY(int count READ rowCount NOTIFY countChanged)
    Q_PROPERTY(int conflicts READ conflicts NOTIFY countChanged)
public:
    enum Role {
        TitleRole = Qt::UserRole + 1, ChannelRole, ChannelNameRole, StartRole, StopRole, WhenRole, PlannedRole,
        ReasonRole, DetailRole, AlternativesRole, RuleRole, AlternativeRole, WhyRole
    };
    Q_ENUM(Role)

    using QAbstractListModel::QAbstractListModel;
    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QHash<int, QByteArray> roleNames() const override;

    /// Planned and skipped airings together, by start time.
    void setItems(QList<DvrUpcoming> items);
    const QList<DvrUpcoming> &items() const { return m_items; }
    /// Airings left out because of a conflict.
    int conflicts() const;
    Q_INVOKABLE QVariantMap get(int row) const;

Q_SIGNALS:
    void countChanged();

private:
    template <typename Model, typename T, typename KeyOf>
    friend void replaceRows(Model *, QList<T> &, const QList<T> &, KeyOf);
    QList<DvrUpcoming> m_items;
};

} // namespace iptv::hubris
