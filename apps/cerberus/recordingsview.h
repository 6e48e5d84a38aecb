#pragma once

// The DVR page: diver's status across the top, then every viewer's recordings (filter by owner,
// channel and state; sort; keep, unkeep, delete), every rule (delete) and the upcoming plan with
// its conflicts. Says plainly when no diver is set or diver cannot be reached.

#include <QHash>
#include <QWidget>

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSortFilterProxyModel;
class QTabWidget;
class QTableView;

namespace iptv::cerberus {
class DvrController;
class RecordingsProxy;
}

namespace cerberus::ui {

class RecordingsView : public QWidget
{
    Q_OBJECT
public:
    explicit RecordingsView(iptv::cerberus::DvrController *dvr, QWidget *parent = nullptr);

    QTableView *recordingsTable() const { return m_recordings; }
    QTableView *rulesTable() const { return m_rules; }
    QTableView *upcomingTable() const { return m_upcoming; }
    QTabWidget *tabs() const { return m_tabs; }
    /// Selects the first recording (screenshots, scripts).
    void selectFirstRow();

private:
    QWidget *addTile(const QString &key, const QString &caption);
    void setTile(const QString &key, const QString &value, const QString &caption = {}, const QString &color = {});
    void updateStatus();
    void updateConnection();
    void updateCounts();
    void refreshPickers();
    QList<qint64> selectedRecordings() const;
    void keepSelected(bool kept);
    void deleteSelected();
    void deleteSelectedRule();

    iptv::cerberus::DvrController *m_dvr;
    iptv::cerberus::RecordingsProxy *m_proxy;
    QSortFilterProxyModel *m_rulesProxy;
    QSortFilterProxyModel *m_upcomingProxy;
    QLabel *m_banner;
    QWidget *m_header;
    QHash<QString, std::pair<QLabel *, QLabel *>> m_tiles; ///< value, caption
    QTabWidget *m_tabs;
    QTableView *m_recordings;
    QTableView *m_rules;
    QTableView *m_upcoming;
    QLineEdit *m_owner;
    QComboBox *m_channel;
    QComboBox *m_state;
    QLabel *m_shown;
    QPushButton *m_keep;
    QPushButton *m_unkeep;
    QPushButton *m_delete;
    QPushButton *m_deleteRule;
    QComboBox *m_outcome;
    bool m_sortSuspended = false;
};

} // namespace cerberus::ui
