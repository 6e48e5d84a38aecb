#include "recordingsview.h"

#include <cerberus/dvrcontroller.h>
#include <cerberus/jsontablemodel.h>
#include <cerberus/recordingsmodel.h>

#include <QAction>
#include <QComboBox>
#include <QFrame>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QJsonArray>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMessageBox>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QTabWidget>
#include <QTableView>
#include <QVBoxLayout>

using namespace iptv::cerberus;

namespace cerberus::ui {

namespace {

/// Sorts a JsonTableModel by its JSON values (times and numbers as numbers), not the shown text.
class JsonSortProxy : public QSortFilterProxyModel
{
public:
    using QSortFilterProxyModel::QSortFilterProxyModel;

protected:
    bool lessThan(const QModelIndex &left, const QModelIndex &right) const override
    {
        const int role = JsonTableModel::FirstColumnRole + left.column();
        const QVariant a = left.data(role), b = right.data(role);
        bool an = false, bn = false;
        const double x = a.toDouble(&an), y = b.toDouble(&bn);
        if (an && bn && x != y)
            return x < y;
        const int c = QString::compare(left.data().toString(), right.data().toString(), Qt::CaseInsensitive);
        if (c != 0)
            return c < 0;
        // Equal: by the first column's value (a rule's owner, an airing's start).
        return left.sibling(left.row(), 0).data(JsonTableModel::FirstColumnRole).toString()
            < right.sibling(right.row(), 0).data(JsonTableModel::FirstColumnRole).toString();
    }
};

QTableView *makeTable(QAbstractItemModel *model)
{
    auto *t = new QTableView;
    t->setModel(model);
    t->setSelectionBehavior(QAbstractItemView::SelectRows);
    t->setAlternatingRowColors(true);
    t->setWordWrap(false);
    t->setSortingEnabled(true);
    t->verticalHeader()->hide();
    t->verticalHeader()->setDefaultSectionSize(22);
    t->horizontalHeader()->setStretchLastSection(true);
    t->horizontalHeader()->setHighlightSections(false);
    t->setContextMenuPolicy(Qt::ActionsContextMenu);
    return t;
}

} // namespace

RecordingsView::RecordingsView(DvrController *dvr, QWidget *parent)
    : QWidget(parent), m_dvr(dvr)
{
    // ---- not connected / unreachable
    m_banner = new QLabel;
    m_banner->setWordWrap(true);
    m_banner->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_banner->hide();

    // ---- diver's status, as tiles
    m_header = new QWidget;
    auto *tiles = new QHBoxLayout(m_header);
    tiles->setContentsMargins(0, 0, 0, 0);
    tiles->setSpacing(6);
    tiles->addWidget(addTile(u"node"_qs, tr("diver node")));
    tiles->addWidget(addTile(u"recorders"_qs, tr("recorders running")));
    tiles->addWidget(addTile(u"planned"_qs, tr("planned")));
    tiles->addWidget(addTile(u"conflicts"_qs, tr("conflicts")));
    tiles->addWidget(addTile(u"library"_qs, tr("recordings")));
    tiles->addWidget(addTile(u"guide"_qs, tr("guide")));
    tiles->addWidget(addTile(u"archives"_qs, tr("archived channels")));
    tiles->addWidget(addTile(u"events"_qs, tr("updates")));
    tiles->addStretch(1);

    // ---- recordings
    m_proxy = new RecordingsProxy(dvr->recordings(), this);
    m_owner = new QLineEdit;
    m_owner->setPlaceholderText(tr("Owner (box serial)"));
    m_owner->setClearButtonEnabled(true);
    m_owner->setMaximumWidth(200);
    m_channel = new QComboBox;
    m_channel->setMinimumWidth(150);
    m_channel->addItem(tr("All channels"));
    m_state = new QComboBox;
    m_state->addItem(tr("All states"));
    for (const QString &s : {u"recording"_qs, u"finished"_qs, u"failed"_qs, u"partial"_qs})
        m_state->addItem(s, s);
    m_shown = new QLabel;
    m_shown->setStyleSheet(u"color:#5f6b77"_qs);
    m_keep = new QPushButton(tr("&Keep"));
    m_keep->setToolTip(tr("Protect from keep-N and free-space retention"));
    m_unkeep = new QPushButton(tr("&Unkeep"));
    m_delete = new QPushButton(tr("&Delete…"));
    auto *refresh = new QPushButton(tr("&Refresh"));
    refresh->setShortcut(QKeySequence::Refresh);
    auto *filters = new QHBoxLayout;
    filters->addWidget(m_owner);
    filters->addWidget(m_channel);
    filters->addWidget(m_state);
    filters->addWidget(m_shown, 1);
    filters->addWidget(m_keep);
    filters->addWidget(m_unkeep);
    filters->addWidget(m_delete);
    filters->addWidget(refresh);
    m_recordings = makeTable(m_proxy);
    m_recordings->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_recordings->sortByColumn(RecordingsModel::StartColumn, Qt::DescendingOrder);
    const int widths[] = {110, 140, 260, 120, 120, 90, 130, 80, 50, 130};
    for (int c = 0; c < RecordingsModel::ColumnCount; ++c)
        m_recordings->setColumnWidth(c, widths[c]);
    auto *keepAction = new QAction(tr("Keep"), this);
    auto *unkeepAction = new QAction(tr("Unkeep"), this);
    auto *deleteAction = new QAction(tr("Delete…"), this);
    deleteAction->setShortcut(QKeySequence::Delete);
    deleteAction->setShortcutContext(Qt::WidgetShortcut);
    m_recordings->addActions({keepAction, unkeepAction, deleteAction});
    auto *recordingsPage = new QWidget;
    auto *rl = new QVBoxLayout(recordingsPage);
    rl->setContentsMargins(0, 6, 0, 0);
    rl->addLayout(filters);
    rl->addWidget(m_recordings, 1);

    // ---- rules
    m_rulesProxy = new JsonSortProxy(this);
    m_rulesProxy->setSourceModel(dvr->rules());
    m_rules = makeTable(m_rulesProxy);
    m_rules->sortByColumn(0, Qt::AscendingOrder);
    const int ruleWidths[] = {110, 80, 240, 90, 200, 70, 130, 60};
    for (int c = 0; c < 8; ++c)
        m_rules->setColumnWidth(c, ruleWidths[c]);
    m_deleteRule = new QPushButton(tr("Delete rule…"));
    auto *deleteRuleAction = new QAction(tr("Delete rule…"), this);
    deleteRuleAction->setShortcut(QKeySequence::Delete);
    deleteRuleAction->setShortcutContext(Qt::WidgetShortcut);
    m_rules->addAction(deleteRuleAction);
    auto *rulesBar = new QHBoxLayout;
    auto *rulesHint = new QLabel(tr("Every viewer's rules; a deleted rule plans nothing more, its recordings stay."));
    rulesHint->setStyleSheet(u"color:#5f6b77"_qs);
    rulesBar->addWidget(rulesHint, 1);
    rulesBar->addWidget(m_deleteRule);
    auto *rulesPage = new QWidget;
    auto *ul = new QVBoxLayout(rulesPage);
    ul->setContentsMargins(0, 6, 0, 0);
    ul->addLayout(rulesBar);
    ul->addWidget(m_rules, 1);

    // ---- upcoming and conflicts
    m_upcomingProxy = new JsonSortProxy(this);
    m_upcomingProxy->setSourceModel(dvr->upcoming());
    m_upcomingProxy->setFilterKeyColumn(5);
    m_upcoming = makeTable(m_upcomingProxy);
    m_upcoming->sortByColumn(0, Qt::AscendingOrder); // in airing order
    const int upWidths[] = {130, 140, 200, 100, 90, 90};
    for (int c = 0; c < 6; ++c)
        m_upcoming->setColumnWidth(c, upWidths[c]);
    // A series rule leaves out most of what it matches (repeats, other windows): by default the
    // plan shows what will record and what cannot for want of a stream.
    m_outcome = new QComboBox;
    m_outcome->addItem(tr("Planned and conflicts"), u"^(planned|conflict)$"_qs);
    m_outcome->addItem(tr("Conflicts only"), u"^conflict$"_qs);
    m_outcome->addItem(tr("Not recorded, any reason"), u"^(?!planned$)"_qs);
    m_outcome->addItem(tr("Everything the rules matched"), QString());
    m_upcomingProxy->setFilterRegularExpression(QRegularExpression(m_outcome->itemData(0).toString()));
    auto *upBar = new QHBoxLayout;
    auto *upHint = new QLabel(tr("What will record, and every airing the rules matched that will not, with why."));
    upHint->setStyleSheet(u"color:#5f6b77"_qs);
    upBar->addWidget(upHint, 1);
    upBar->addWidget(new QLabel(tr("Show")));
    upBar->addWidget(m_outcome);
    auto *upPage = new QWidget;
    auto *pl = new QVBoxLayout(upPage);
    pl->setContentsMargins(0, 6, 0, 0);
    pl->addLayout(upBar);
    pl->addWidget(m_upcoming, 1);

    m_tabs = new QTabWidget;
    m_tabs->setDocumentMode(true);
    m_tabs->addTab(recordingsPage, tr("Recordings"));
    m_tabs->addTab(rulesPage, tr("Rules"));
    m_tabs->addTab(upPage, tr("Upcoming && conflicts"));

    auto *title = new QLabel(tr("Recordings (DVR)"));
    title->setStyleSheet(u"font-weight:600; font-size:10.5pt"_qs);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);
    layout->addWidget(title);
    layout->addWidget(m_banner);
    layout->addWidget(m_header);
    layout->addWidget(m_tabs, 1);

    // ---- wiring
    connect(m_owner, &QLineEdit::textChanged, this, [this](const QString &t) {
        m_proxy->setOwnerFilter(t.trimmed());
        updateCounts();
    });
    connect(m_channel, &QComboBox::currentIndexChanged, this, [this](int i) {
        m_proxy->setChannelFilter(i <= 0 ? QString() : m_channel->itemText(i));
        updateCounts();
    });
    connect(m_state, &QComboBox::currentIndexChanged, this, [this](int i) {
        m_proxy->setStateFilter(m_state->itemData(i).toString());
        updateCounts();
    });
    connect(m_outcome, &QComboBox::currentIndexChanged, this, [this](int i) {
        m_upcomingProxy->setFilterRegularExpression(QRegularExpression(m_outcome->itemData(i).toString()));
    });
    connect(refresh, &QPushButton::clicked, dvr, &DvrController::refresh);
    connect(m_keep, &QPushButton::clicked, this, [this] { keepSelected(true); });
    connect(m_unkeep, &QPushButton::clicked, this, [this] { keepSelected(false); });
    connect(m_delete, &QPushButton::clicked, this, &RecordingsView::deleteSelected);
    connect(keepAction, &QAction::triggered, this, [this] { keepSelected(true); });
    connect(unkeepAction, &QAction::triggered, this, [this] { keepSelected(false); });
    connect(deleteAction, &QAction::triggered, this, &RecordingsView::deleteSelected);
    connect(m_deleteRule, &QPushButton::clicked, this, &RecordingsView::deleteSelectedRule);
    connect(deleteRuleAction, &QAction::triggered, this, &RecordingsView::deleteSelectedRule);
    connect(m_recordings->selectionModel(), &QItemSelectionModel::selectionChanged, this, &RecordingsView::updateCounts);
    connect(m_rules->selectionModel(), &QItemSelectionModel::selectionChanged, this, &RecordingsView::updateCounts);

    RecordingsModel *model = dvr->recordings();
    connect(model, &RecordingsModel::countChanged, this, &RecordingsView::updateCounts);
    connect(model, &RecordingsModel::loadingChanged, this, [this, model](bool loading) {
        // The first load of a big library unsorted (150,000 sorted inserts are slow), then
        // sorted once; later lists change a few rows and stay sorted as they come.
        if (loading && model->rowCount() == 0 && !m_sortSuspended) {
            m_sortSuspended = true;
            m_recordings->setSortingEnabled(false);
            m_proxy->sort(-1);
        } else if (!loading && m_sortSuspended) {
            m_sortSuspended = false;
            m_recordings->setSortingEnabled(true);
            m_recordings->sortByColumn(m_recordings->horizontalHeader()->sortIndicatorSection(),
                                       m_recordings->horizontalHeader()->sortIndicatorOrder());
        }
    });
    connect(dvr, &DvrController::recordingsPageLoaded, this, &RecordingsView::updateCounts);
    connect(dvr, &DvrController::recordingsLoaded, this, [this] {
        refreshPickers();
        updateStatus();
    });
    connect(dvr, &DvrController::statusChanged, this, &RecordingsView::updateStatus);
    connect(dvr, &DvrController::rulesLoaded, this, &RecordingsView::updateCounts);
    connect(dvr, &DvrController::upcomingLoaded, this, &RecordingsView::updateCounts);
    connect(dvr, &DvrController::connectionChanged, this, &RecordingsView::updateConnection);
    connect(dvr->client(), &DiverClient::eventsConnectedChanged, this, &RecordingsView::updateStatus);
    updateConnection();
    updateStatus();
    updateCounts();
}

QWidget *RecordingsView::addTile(const QString &key, const QString &caption)
{
    auto *frame = new QFrame;
    frame->setObjectName(u"tile"_qs);
    frame->setStyleSheet(u"QFrame#tile { background:#f4f6f8; border:1px solid #dde3e9; border-radius:4px; }"_qs);
    auto *value = new QLabel(u"–"_qs);
    value->setStyleSheet(u"font-size:13pt; font-weight:600; color:#1f2d3d"_qs);
    value->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto *label = new QLabel(caption);
    label->setStyleSheet(u"color:#5f6b77"_qs);
    auto *l = new QVBoxLayout(frame);
    l->setContentsMargins(10, 5, 10, 5);
    l->setSpacing(0);
    l->addWidget(value);
    l->addWidget(label);
    m_tiles.insert(key, {value, label});
    return frame;
}

void RecordingsView::setTile(const QString &key, const QString &value, const QString &caption, const QString &color)
{
    const auto tile = m_tiles.value(key);
    if (!tile.first)
        return;
    tile.first->setText(value);
    tile.first->setStyleSheet(u"font-size:13pt; font-weight:600; color:"_qs + (color.isEmpty() ? u"#1f2d3d"_qs : color));
    if (!caption.isEmpty())
        tile.second->setText(caption);
}

void RecordingsView::updateConnection()
{
    QString text;
    QString style;
    switch (m_dvr->connectionState()) {
    case DvrController::NotConfigured:
        text = tr("<b>Not connected to diver.</b> No DVR server is set: start Cerberus with <tt>--diver http://host:8430</tt> "
                  "(and <tt>--diver-token-file</tt> for diver's admin token), or enter it when signing in.");
        style = u"background:#fdf3d8; border:1px solid #e8c66a; color:#6b4e00; padding:8px; border-radius:4px"_qs;
        break;
    case DvrController::Unreachable:
        text = tr("<b>Not connected to diver</b> at %1: %2. Retrying.")
                   .arg(m_dvr->client()->serverUrl().toString().toHtmlEscaped(), m_dvr->connectionError().toHtmlEscaped());
        style = u"background:#fbe3e1; border:1px solid #e4a19a; color:#8a1f14; padding:8px; border-radius:4px"_qs;
        break;
    default:
        break;
    }
    m_banner->setVisible(!text.isEmpty());
    m_banner->setText(text);
    m_banner->setStyleSheet(style);
    m_header->setEnabled(m_dvr->connectionState() == DvrController::Connected);
}

void RecordingsView::updateStatus()
{
    const QJsonObject s = m_dvr->status();
    if (s.isEmpty())
        return;
    setTile(u"node"_qs, s.value(u"node").toString(), tr("diver node · %1").arg(m_dvr->client()->serverUrl().authority()));
    // diver's `recorders` counts the channel archives too; its capacity is for recordings' copies.
    const int archives = int(s.value(u"archivesRecorded").toArray().size());
    const int copies = std::max(0, s.value(u"recorders").toInt() - archives), capacity = s.value(u"capacity").toInt();
    setTile(u"recorders"_qs, QStringLiteral("%1 / %2").arg(copies).arg(capacity),
            archives == 0 ? tr("recorders running / capacity")
                          : archives == 1 ? tr("recorders running / capacity · +1 archive")
                                          : tr("recorders running / capacity · +%1 archives").arg(archives),
            capacity > 0 && copies >= capacity ? u"#b86e00"_qs : QString());
    setTile(u"planned"_qs, QLocale().toString(s.value(u"planned").toInteger()), tr("planned"));
    const qint64 conflicts = s.value(u"conflicts").toInteger();
    setTile(u"conflicts"_qs, QLocale().toString(conflicts), conflicts == 1 ? tr("conflict") : tr("conflicts"),
            conflicts > 0 ? u"#c0392b"_qs : u"#1e7e34"_qs);
    setTile(u"library"_qs, QLocale().toString(m_dvr->recordings()->rowCount()), tr("recordings, every viewer's"));
    const QJsonObject guide = s.value(u"guide").toObject();
    if (guide.isEmpty())
        setTile(u"guide"_qs, tr("none yet"), tr("guide"), u"#c0392b"_qs);
    else
        setTile(u"guide"_qs, tr("%1 ch").arg(guide.value(u"channels").toInt()),
                tr("guide · %L1 airings").arg(guide.value(u"airings").toInteger()));
    QStringList archived;
    for (const QJsonValue &v : s.value(u"archivedChannels").toArray())
        archived.append(v.toString());
    QStringList here;
    for (const QJsonValue &v : s.value(u"archivesRecorded").toArray())
        here.append(v.toString());
    // A count: a lineup may archive dozens of channels. Which ones, in the tooltip.
    setTile(u"archives"_qs, QLocale().toString(archived.size()),
            archived.isEmpty() ? tr("archived channels") : tr("archived channels · %1 h").arg(s.value(u"archiveHours").toInt()));
    m_tiles.value(u"archives"_qs).first->parentWidget()->setToolTip(
        archived.isEmpty() ? tr("No channel is archived (timeshift, catch-up).")
                           : tr("Archived: %1\nRecorded by this node: %2").arg(archived.join(u", "_qs), here.isEmpty() ? tr("none") : here.join(u", "_qs)));
    const bool live = m_dvr->client()->isEventsConnected();
    setTile(u"events"_qs, live ? tr("● live") : tr("polling"), live ? tr("diver's events") : tr("events reconnecting"),
            live ? u"#2ea043"_qs : u"#b86e00"_qs);
}

void RecordingsView::updateCounts()
{
    const int total = m_dvr->recordings()->rowCount();
    const int shown = m_proxy->rowCount();
    const int selected = int(m_recordings->selectionModel()->selectedRows().size());
    QString text = shown == total ? tr("%L1 recordings").arg(total) : tr("%L1 of %L2 recordings").arg(shown).arg(total);
    if (selected)
        text += tr(" · %L1 selected").arg(selected);
    if (const int read = m_dvr->recordingsRead())
        text += tr(" · reading the library: %L1…").arg(read);
    else if (m_dvr->recordings()->isLoading())
        text += tr(" · loading…");
    m_shown->setText(text);
    m_keep->setEnabled(selected > 0);
    m_unkeep->setEnabled(selected > 0);
    m_delete->setEnabled(selected > 0);
    m_deleteRule->setEnabled(m_rules->selectionModel()->hasSelection());
    m_tabs->setTabText(0, tr("Recordings (%L1)").arg(total));
    m_tabs->setTabText(1, tr("Rules (%L1)").arg(m_dvr->rules()->rowCount()));
    int conflicts = 0, planned = 0;
    for (const QJsonObject &o : m_dvr->upcoming()->rows()) {
        const QString status = o.value(u"status").toString();
        conflicts += status == u"conflict";
        planned += status == u"planned";
    }
    m_tabs->setTabText(2, conflicts ? tr("Upcoming (%L1) && conflicts (%L2)").arg(planned).arg(conflicts) : tr("Upcoming (%L1)").arg(planned));
    if (m_tiles.contains(u"library"_qs) && !m_dvr->status().isEmpty())
        setTile(u"library"_qs, QLocale().toString(total));
}

void RecordingsView::refreshPickers()
{
    const QString current = m_channel->currentIndex() > 0 ? m_channel->currentText() : QString();
    const QStringList channels = m_dvr->recordings()->distinct(RecordingsModel::ChannelColumn);
    QStringList had;
    for (int i = 1; i < m_channel->count(); ++i)
        had.append(m_channel->itemText(i));
    if (had == channels)
        return;
    const QSignalBlocker block(m_channel);
    m_channel->clear();
    m_channel->addItem(tr("All channels"));
    m_channel->addItems(channels);
    m_channel->setCurrentIndex(std::max(0, int(channels.indexOf(current)) + 1));
}

QList<qint64> RecordingsView::selectedRecordings() const
{
    QList<qint64> ids;
    for (const QModelIndex &i : m_recordings->selectionModel()->selectedRows())
        ids.append(m_proxy->idAt(i.row()));
    return ids;
}

void RecordingsView::keepSelected(bool kept)
{
    for (qint64 id : selectedRecordings())
        m_dvr->setKept(id, kept);
}

void RecordingsView::deleteSelected()
{
    const QList<qint64> ids = selectedRecordings();
    if (ids.isEmpty())
        return;
    QString what;
    if (ids.size() == 1) {
        const RecordingRow &r = m_dvr->recordings()->row(m_dvr->recordings()->rowOf(ids.first()));
        what = tr("Delete \"%1\" (%2, %3) of %4?\n\nThe viewer loses it; the stored copy goes with the last viewer's.")
                   .arg(r.title, r.channelName, QDateTime::fromSecsSinceEpoch(r.recordStart).toString(u"yyyy-MM-dd HH:mm"_qs), r.owner);
    } else {
        what = tr("Delete %1 recordings?\n\nTheir viewers lose them; a stored copy goes with its last viewer's.").arg(ids.size());
    }
    if (QMessageBox::question(this, tr("Delete recordings"), what, QMessageBox::Yes | QMessageBox::Cancel, QMessageBox::Cancel)
        != QMessageBox::Yes)
        return;
    for (qint64 id : ids)
        m_dvr->deleteRecording(id);
}

void RecordingsView::deleteSelectedRule()
{
    const QModelIndexList rows = m_rules->selectionModel()->selectedRows();
    if (rows.isEmpty())
        return;
    QList<QJsonObject> rules;
    for (const QModelIndex &i : rows)
        rules.append(m_dvr->rules()->rowObject(m_rulesProxy->mapToSource(i).row()));
    const QString what = rules.size() == 1
        ? tr("Delete rule %1 of %2 (%3)?\n\nIt plans nothing more; the recordings it made stay.")
              .arg(rules.first().value(u"id").toInteger())
              .arg(rules.first().value(u"owner").toString(), m_dvr->rules()->index(m_rulesProxy->mapToSource(rows.first()).row(), 2).data().toString())
        : tr("Delete %1 rules?\n\nThey plan nothing more; the recordings they made stay.").arg(rules.size());
    if (QMessageBox::question(this, tr("Delete rules"), what, QMessageBox::Yes | QMessageBox::Cancel, QMessageBox::Cancel) != QMessageBox::Yes)
        return;
    for (const QJsonObject &r : rules)
        m_dvr->deleteRule(r.value(u"id").toInteger());
}

void RecordingsView::selectFirstRow()
{
    if (m_proxy->rowCount() > 0)
        m_recordings->selectRow(0);
}

} // namespace cerberus::ui
