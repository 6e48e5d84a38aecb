#include "fleetview.h"

#include "boxdetailpane.h"

#include <cerberus/boxdetailcontroller.h>
#include <cerberus/controlclient.h>

#include <QAction>
#include <QPainter>
#include <QStyledItemDelegate>
#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QMenu>
#include <QMessageBox>
#include <QPushButton>
#include <QSplitter>
#include <QTableView>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>

using namespace iptv::cerberus;

namespace cerberus::ui {

namespace {

/// Draws the status colour as a small dot instead of a filled square.
class StatusDelegate : public QStyledItemDelegate
{
public:
    using QStyledItemDelegate::QStyledItemDelegate;

protected:
    void initStyleOption(QStyleOptionViewItem *option, const QModelIndex &index) const override
    {
        QStyledItemDelegate::initStyleOption(option, index);
        const QVariant v = index.data(Qt::DecorationRole);
        if (v.typeId() != QMetaType::QColor)
            return;
        const QColor c = v.value<QColor>();
        QIcon &icon = m_icons[c.rgb()];
        if (icon.isNull()) {
            QPixmap pm(20, 20);
            pm.fill(Qt::transparent);
            QPainter p(&pm);
            p.setRenderHint(QPainter::Antialiasing);
            p.setPen(Qt::NoPen);
            p.setBrush(c);
            p.drawEllipse(QRectF(3, 3, 14, 14));
            icon = QIcon(pm);
        }
        option->icon = icon;
        option->decorationSize = QSize(10, 10);
    }

private:
    mutable QHash<QRgb, QIcon> m_icons;
};

QComboBox *picker(const QString &any)
{
    auto *c = new QComboBox;
    c->addItem(any, QString());
    c->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    c->setMinimumContentsLength(8);
    return c;
}

void fill(QComboBox *c, const QStringList &values)
{
    const QString current = c->currentData().toString();
    while (c->count() > 1)
        c->removeItem(1);
    for (const QString &v : values)
        c->addItem(v, v);
    const int i = c->findData(current);
    c->setCurrentIndex(i < 0 ? 0 : i);
}

} // namespace

FleetView::FleetView(ControlClient *client, FleetModel *model, BoxDetailController *detail, CommandController *commands,
                     QWidget *parent)
    : QWidget(parent), m_client(client), m_model(model), m_proxy(new FleetFilterProxy(this)), m_detail(detail),
      m_commands(commands), m_countTimer(new QTimer(this))
{
    m_proxy->setFleetModel(model);

    m_search = new QLineEdit;
    m_search->setPlaceholderText(tr("Search serial, model, version, channel, tag…  (Ctrl+F)"));
    m_search->setClearButtonEnabled(true);
    m_search->setMinimumWidth(220);
    m_presence = new QComboBox;
    m_presence->addItem(tr("Online or not"), int(FleetFilter::Presence::Any));
    m_presence->addItem(tr("Online"), int(FleetFilter::Presence::Online));
    m_presence->addItem(tr("Offline"), int(FleetFilter::Presence::Offline));
    m_modelPick = picker(tr("Any model"));
    m_versionPick = picker(tr("Any version"));
    m_channelPick = picker(tr("Any release"));
    m_channelPick->addItem(u"clean"_qs, u"clean"_qs);
    m_channelPick->addItem(u"experimental"_qs, u"experimental"_qs);
    m_tagPick = picker(tr("Any tag"));
    m_problems = new QCheckBox(tr("Problems"));
    m_problems->setToolTip(tr("Only boxes with a health warning or alarm"));
    m_saved = new QComboBox;
    m_saved->setToolTip(tr("Saved filters"));
    m_saved->setMinimumContentsLength(10);
    auto *save = new QToolButton;
    save->setText(tr("Save…"));
    save->setToolTip(tr("Save this filter"));
    m_count = new QLabel;
    m_count->setStyleSheet(u"color:#555"_qs);

    auto *bar = new QHBoxLayout;
    bar->setSpacing(6);
    bar->addWidget(m_search, 3);
    bar->addWidget(m_presence);
    bar->addWidget(m_modelPick);
    bar->addWidget(m_versionPick);
    bar->addWidget(m_channelPick);
    bar->addWidget(m_tagPick);
    bar->addWidget(m_problems);
    bar->addStretch(1);
    bar->addWidget(m_saved);
    bar->addWidget(save);

    m_table = new QTableView;
    m_table->setModel(m_proxy);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(FleetModel::SerialColumn, Qt::AscendingOrder);
    m_table->setAlternatingRowColors(true);
    m_table->setWordWrap(false);
    m_table->setContextMenuPolicy(Qt::CustomContextMenu);
    m_table->verticalHeader()->hide();
    m_table->verticalHeader()->setDefaultSectionSize(22);
    m_table->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    m_table->horizontalHeader()->setHighlightSections(false);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->setItemDelegateForColumn(FleetModel::StatusColumn, new StatusDelegate(m_table));
    const int widths[] = {72, 112, 62, 78, 90, 70, 68, 150, 100};
    for (int c = 0; c < FleetModel::ColumnCount; ++c)
        m_table->setColumnWidth(c, widths[c]);

    m_pane = new BoxDetailPane(detail);
    m_splitter = new QSplitter(Qt::Horizontal);
    auto *left = new QWidget;
    auto *ll = new QVBoxLayout(left);
    ll->setContentsMargins(0, 0, 0, 0);
    ll->addWidget(m_table, 1);
    ll->addWidget(m_count);
    m_splitter->addWidget(left);
    m_splitter->addWidget(m_pane);
    m_splitter->setStretchFactor(0, 3);
    m_splitter->setStretchFactor(1, 2);
    m_splitter->setSizes({700, 520});
    m_splitter->setChildrenCollapsible(false);

    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);
    layout->addLayout(bar);
    layout->addWidget(m_splitter, 1);

    // Actions: context menu, shortcuts, and the window's Box menu.
    struct Spec
    {
        CommandController::Kind kind;
        QKeySequence key;
    };
    const Spec specs[] = {{CommandController::Kind::Reboot, QKeySequence(Qt::CTRL | Qt::Key_R)},
                          {CommandController::Kind::Tune, QKeySequence(Qt::CTRL | Qt::Key_T)},
                          {CommandController::Kind::Message, QKeySequence(Qt::CTRL | Qt::Key_M)},
                          {CommandController::Kind::CollectLogs, QKeySequence(Qt::CTRL | Qt::Key_L)},
                          {CommandController::Kind::Screenshot, QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_S)},
                          {CommandController::Kind::FactoryReset, QKeySequence()}};
    for (const Spec &s : specs) {
        auto *a = new QAction(CommandController::kindTitle(s.kind) + (s.kind == CommandController::Kind::FactoryReset
                                                                          || s.kind == CommandController::Kind::Tune
                                                                          || s.kind == CommandController::Kind::Message
                                                                          ? u"…"_qs : QString()), this);
        a->setShortcut(s.key);
        a->setShortcutContext(Qt::WidgetWithChildrenShortcut);
        a->setData(int(s.kind));
        connect(a, &QAction::triggered, this, [this, kind = s.kind] { run(kind, false); });
        addAction(a);
        m_commandActions.append(a);
    }
    auto *clean = new QAction(tr("Move to clean"), this);
    auto *experimental = new QAction(tr("Move to experimental"), this);
    connect(clean, &QAction::triggered, this, [this] { moveTo(u"clean"_qs); });
    connect(experimental, &QAction::triggered, this, [this] { moveTo(u"experimental"_qs); });
    auto *approve = new QAction(tr("Approve"), this);
    connect(approve, &QAction::triggered, this, [this] { m_commands->approve(selectedIds()); });
    m_commandActions << clean << experimental << approve;

    auto *find = new QAction(this);
    find->setShortcut(QKeySequence::Find);
    connect(find, &QAction::triggered, this, &FleetView::focusSearch);
    addAction(find);

    connect(m_table, &QWidget::customContextMenuRequested, this, [this](const QPoint &pos) {
        QMenu *menu = buildMenu(false);
        menu->addSeparator();
        QMenu *all = buildMenu(true);
        all->setTitle(tr("All %L1 boxes of this filter", nullptr).arg(m_proxy->rowCount()));
        menu->addMenu(all);
        menu->exec(m_table->viewport()->mapToGlobal(pos));
        menu->deleteLater();
    });

    // Filter as you type, one rebuild per pause in typing rather than per key.
    auto *typing = new QTimer(this);
    typing->setSingleShot(true);
    typing->setInterval(60);
    connect(m_search, &QLineEdit::textChanged, typing, qOverload<>(&QTimer::start));
    connect(typing, &QTimer::timeout, this, &FleetView::applyFilter);
    connect(m_search, &QLineEdit::returnPressed, this, [this] {
        m_table->setFocus();
        if (m_proxy->rowCount() && !m_table->currentIndex().isValid())
            m_table->selectRow(0);
    });
    for (QComboBox *c : {m_presence, m_modelPick, m_versionPick, m_channelPick, m_tagPick})
        connect(c, &QComboBox::currentIndexChanged, this, [this] {
            if (!m_updatingPickers)
                applyFilter();
        });
    connect(m_problems, &QCheckBox::toggled, this, &FleetView::applyFilter);
    connect(save, &QToolButton::clicked, this, &FleetView::saveFilter);
    connect(m_saved, &QComboBox::activated, this, [this](int i) { loadSavedFilter(m_saved->itemText(i)); });

    connect(m_table->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this](const QModelIndex &current) {
        m_detail->setBox(current.isValid() ? m_proxy->idAt(current.row()) : 0);
    });
    connect(m_table->selectionModel(), &QItemSelectionModel::selectionChanged, this, &FleetView::updateActions);
    connect(client->permissions(), &Permissions::changed, this, &FleetView::updateActions);
    // The count label follows inserts and filter changes, at most a few times a second.
    m_countTimer->setSingleShot(true);
    m_countTimer->setInterval(200);
    connect(m_countTimer, &QTimer::timeout, this, &FleetView::updateCount);
    for (auto signal : {&QAbstractItemModel::rowsInserted, &QAbstractItemModel::rowsRemoved})
        connect(m_proxy, signal, m_countTimer, qOverload<>(&QTimer::start));
    connect(m_proxy, &QAbstractItemModel::layoutChanged, m_countTimer, qOverload<>(&QTimer::start));
    connect(m_proxy, &QAbstractItemModel::modelReset, m_countTimer, qOverload<>(&QTimer::start));
    connect(model, &FleetModel::onlineCountChanged, m_countTimer, qOverload<>(&QTimer::start));

    m_saved->addItem(tr("Saved filters"));
    for (const QString &n : SavedFilters::names())
        m_saved->addItem(n);
    updateActions();
    updateCount();
}

QMenu *FleetView::buildMenu(bool wholeFilter)
{
    auto *menu = new QMenu(this);
    for (QAction *a : std::as_const(m_commandActions)) {
        if (!a->data().isValid()) {
            if (wholeFilter && a->text() == tr("Approve"))
                continue;
            if (!wholeFilter)
                menu->addAction(a);
            continue;
        }
        if (!wholeFilter) {
            menu->addAction(a);
            continue;
        }
        const auto kind = CommandController::Kind(a->data().toInt());
        QAction *b = menu->addAction(a->text(), this, [this, kind] { run(kind, true); });
        b->setEnabled(m_commands->isAllowed(kind) && m_proxy->rowCount() > 0);
    }
    return menu;
}

void FleetView::suspendSorting()
{
    if (m_sortSuspended)
        return;
    m_sortSuspended = true;
    m_sortColumn = m_table->horizontalHeader()->sortIndicatorSection();
    m_sortOrder = m_table->horizontalHeader()->sortIndicatorOrder();
    m_table->setSortingEnabled(false);
    m_proxy->sort(-1);
}

void FleetView::resumeSorting()
{
    if (!m_sortSuspended)
        return;
    m_sortSuspended = false;
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(m_sortColumn, m_sortOrder);
}

void FleetView::focusSearch()
{
    m_search->setFocus();
    m_search->selectAll();
}

void FleetView::selectFirstRow()
{
    // The first box that is online (it has live charts), else the first row.
    int row = 0;
    for (int i = 0; i < m_proxy->rowCount(); ++i) {
        if (m_proxy->index(i, 0).data(FleetModel::OnlineRole).toBool()) {
            row = i;
            break;
        }
    }
    if (m_proxy->rowCount() > 0) {
        m_table->setCurrentIndex(m_proxy->index(row, 0));
        m_table->selectRow(row);
        m_table->scrollTo(m_proxy->index(row, 0), QAbstractItemView::PositionAtCenter);
    }
}

void FleetView::refreshPickers()
{
    m_updatingPickers = true;
    fill(m_modelPick, m_model->distinctValues(FleetModel::ModelColumn));
    fill(m_versionPick, m_model->distinctValues(FleetModel::VersionColumn));
    fill(m_tagPick, m_model->distinctValues(FleetModel::TagsColumn));
    m_updatingPickers = false;
}

void FleetView::applyFilter()
{
    FleetFilter f;
    f.text = m_search->text();
    f.presence = FleetFilter::Presence(m_presence->currentData().toInt());
    f.model = m_modelPick->currentData().toString();
    f.version = m_versionPick->currentData().toString();
    f.releaseChannel = m_channelPick->currentData().toString();
    f.tag = m_tagPick->currentData().toString();
    f.problemsOnly = m_problems->isChecked();
    m_proxy->setFilter(f);
    updateCount();
}

void FleetView::updateCount()
{
    const QLocale l;
    const int shown = m_proxy->rowCount(), total = m_model->rowCount();
    const int selected = int(m_table->selectionModel()->selectedRows().size());
    QString text = shown == total ? tr("%1 boxes").arg(l.toString(total)) : tr("%1 of %2 boxes").arg(l.toString(shown), l.toString(total));
    text += tr(" · %1 online").arg(l.toString(m_model->onlineCount()));
    if (selected > 1)
        text += tr(" · %1 selected").arg(l.toString(selected));
    m_count->setText(text);
}

void FleetView::updateActions()
{
    const bool any = m_table->selectionModel()->hasSelection();
    for (QAction *a : std::as_const(m_commandActions)) {
        bool allowed = m_client->permissions()->canCommand();
        if (a->data().isValid())
            allowed = m_commands->isAllowed(CommandController::Kind(a->data().toInt()));
        a->setEnabled(any && allowed);
        if (!allowed)
            a->setToolTip(tr("Needs the operator role"));
    }
    updateCount();
}

QList<qint64> FleetView::selectedIds() const
{
    QList<qint64> ids;
    const auto rows = m_table->selectionModel()->selectedRows();
    ids.reserve(rows.size());
    for (const QModelIndex &i : rows)
        ids.append(m_proxy->idAt(i.row()));
    return ids;
}

void FleetView::run(CommandController::Kind kind, bool wholeFilter)
{
    CommandTarget target;
    if (wholeFilter) {
        const FleetFilter &f = m_proxy->filter();
        // The server matches structured filters itself (boxes that enroll meanwhile included);
        // free text is the console's own search, so it goes out as the ids it shows.
        target = f.hasStructuredOnly() ? CommandTarget::fleetFilter(f.toServerFilter(), f.describe(), m_proxy->rowCount())
                                       : CommandTarget::selection(m_proxy->visibleIds());
        if (!f.hasStructuredOnly())
            target.description = tr("%1 boxes (%2)").arg(m_proxy->rowCount()).arg(f.describe());
    } else {
        target = CommandTarget::selection(selectedIds());
    }
    if (target.expectedCount == 0)
        return;
    QJsonObject args;
    if (kind == CommandController::Kind::Tune) {
        bool ok = false;
        const QString ch = QInputDialog::getText(this, tr("Tune"), tr("Channel to tune %1 to:").arg(target.description),
                                                 QLineEdit::Normal, QString(), &ok);
        if (!ok || ch.trimmed().isEmpty())
            return;
        args.insert(u"channel"_qs, ch.trimmed());
    } else if (kind == CommandController::Kind::Message) {
        bool ok = false;
        const QString text = QInputDialog::getMultiLineText(this, tr("Show message"), tr("Message for %1:").arg(target.description),
                                                            QString(), &ok);
        if (!ok || text.trimmed().isEmpty())
            return;
        args.insert(u"text"_qs, text.trimmed());
        args.insert(u"seconds"_qs, 15);
    } else if (kind == CommandController::Kind::CollectLogs) {
        args.insert(u"lines"_qs, 500);
    }
    if (CommandController::needsConfirmation(kind, target)) {
        const bool reset = kind == CommandController::Kind::FactoryReset;
        QMessageBox box(reset ? QMessageBox::Warning : QMessageBox::Question, CommandController::kindTitle(kind),
                        reset ? tr("Factory reset %1?\n\nEvery setting and recording on the box is erased. This cannot be undone.")
                                    .arg(target.description)
                              : tr("%1 %2?").arg(CommandController::kindTitle(kind), target.description),
                        QMessageBox::Cancel, this);
        QPushButton *go = box.addButton(reset ? tr("Erase %1").arg(target.description) : CommandController::kindTitle(kind),
                                        QMessageBox::DestructiveRole);
        box.setDefaultButton(QMessageBox::Cancel);
        box.exec();
        if (box.clickedButton() != go)
            return;
    }
    m_commands->issue(kind, target, args);
}

void FleetView::moveTo(const QString &channel)
{
    const QList<qint64> ids = selectedIds();
    if (ids.size() > 1
        && QMessageBox::question(this, tr("Move boxes"), tr("Move %1 boxes to the %2 channel?").arg(ids.size()).arg(channel))
               != QMessageBox::Yes)
        return;
    m_commands->moveToChannel(ids, channel);
}

void FleetView::saveFilter()
{
    bool ok = false;
    const QString name = QInputDialog::getText(this, tr("Save filter"), tr("Name for \"%1\":").arg(m_proxy->filter().describe()),
                                               QLineEdit::Normal, QString(), &ok);
    if (!ok || name.trimmed().isEmpty())
        return;
    SavedFilters::save(name.trimmed(), m_proxy->filter());
    if (m_saved->findText(name.trimmed()) < 0)
        m_saved->addItem(name.trimmed());
}

void FleetView::loadSavedFilter(const QString &name)
{
    if (m_saved->currentIndex() == 0)
        return;
    const FleetFilter f = SavedFilters::load(name);
    m_updatingPickers = true;
    m_search->setText(f.text);
    m_presence->setCurrentIndex(m_presence->findData(int(f.presence)));
    auto pick = [](QComboBox *c, const QString &v) {
        int i = c->findData(v);
        if (i < 0 && !v.isEmpty()) {
            c->addItem(v, v);
            i = c->count() - 1;
        }
        c->setCurrentIndex(std::max(0, i));
    };
    pick(m_modelPick, f.model);
    pick(m_versionPick, f.version);
    pick(m_channelPick, f.releaseChannel);
    pick(m_tagPick, f.tag);
    m_problems->blockSignals(true);
    m_problems->setChecked(f.problemsOnly);
    m_problems->blockSignals(false);
    m_updatingPickers = false;
    applyFilter();
}

} // namespace cerberus::ui
