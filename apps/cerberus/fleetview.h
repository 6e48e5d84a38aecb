#pragma once

// The fleet: filter bar (instant search, structured filters, saved filters), the table of every
// box (multi-select, context menu and shortcuts for commands) and the box detail pane.

#include <cerberus/commandcontroller.h>
#include <cerberus/fleetfilterproxy.h>

#include <QWidget>

class QAction;
class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QMenu;
class QSplitter;
class QTableView;
class QTimer;

namespace iptv::cerberus {
class BoxDetailController;
class ControlClient;
}

namespace cerberus::ui {

class BoxDetailPane;

class FleetView : public QWidget
{
    Q_OBJECT
public:
    FleetView(iptv::cerberus::ControlClient *client, iptv::cerberus::FleetModel *model,
              iptv::cerberus::BoxDetailController *detail, iptv::cerberus::CommandController *commands,
              QWidget *parent = nullptr);

    QTableView *table() const { return m_table; }
    QSplitter *splitter() const { return m_splitter; }
    BoxDetailPane *detailPane() const { return m_pane; }
    iptv::cerberus::FleetFilterProxy *proxy() const { return m_proxy; }
    void focusSearch();
    void selectFirstRow();
    /// Refills the structured filter pickers from the values the fleet has.
    void refreshPickers();
    QList<QAction *> commandActions() const { return m_commandActions; }
    /// While the fleet loads, new rows are appended unsorted (a sorted insert of 1,000 scattered
    /// rows into 100,000 moves the proxy's mapping once per row); one sort follows at the end.
    void suspendSorting();
    void resumeSorting();

private:
    void applyFilter();
    void updateCount();
    void updateActions();
    QList<qint64> selectedIds() const;
    void run(iptv::cerberus::CommandController::Kind kind, bool wholeFilter);
    void moveTo(const QString &channel);
    void saveFilter();
    void loadSavedFilter(const QString &name);
    QMenu *buildMenu(bool wholeFilter);

    iptv::cerberus::ControlClient *m_client;
    iptv::cerberus::FleetModel *m_model;
    iptv::cerberus::FleetFilterProxy *m_proxy;
    iptv::cerberus::BoxDetailController *m_detail;
    iptv::cerberus::CommandController *m_commands;
    QLineEdit *m_search;
    QComboBox *m_presence;
    QComboBox *m_modelPick;
    QComboBox *m_versionPick;
    QComboBox *m_channelPick;
    QComboBox *m_tagPick;
    QCheckBox *m_problems;
    QComboBox *m_saved;
    QLabel *m_count;
    QTableView *m_table;
    QSplitter *m_splitter;
    BoxDetailPane *m_pane;
    QTimer *m_countTimer;
    QList<QAction *> m_commandActions;
    bool m_updatingPickers = false;
    int m_sortColumn = -1;
    Qt::SortOrder m_sortOrder = Qt::AscendingOrder;
    bool m_sortSuspended = false;
};

} // namespace cerberus::ui
