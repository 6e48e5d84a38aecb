#pragma once

// The guide grid as one Qt Quick item: the time ruler, the channel column and the programme cells
// of the rows on screen, drawn as scene-graph nodes (opaque rectangles and one cached texture per
// distinct text), so a key costs no QML bindings and no item per cell. The item owns the focus
// (a row of GridChannels and a time; the focused airing is the one airing then) and the view (the
// first row shown and the time at the left edge); the page maps keys onto its methods.
//
// A row's nodes are kept while what it shows is unchanged: rows sit under one transform node, so
// moving the focus by a row re-draws the two rows whose highlight changed and shifts the rest.

#include "channelfiltermodel.h"
#include "dvrclient.h"
#include "guidegrid.h"

#include <QColor>
#include <QFont>
#include <QList>
#include <QPointer>
#include <QQuickItem>
#include <QVariantMap>

#include <algorithm>

namespace iptv::hubris {

class GuideGridView : public QQuickItem
{
    Q_OBJECT
    QML_ELEMENT
    /// Where the airings come from (the GuideGrid singleton) and which channels are rows
    /// (GridChannels); dvr (may be null) gives the recording marks.
    Q_PROPERTY(iptv::hubris::GuideGrid *guide READ guide WRITE setGuide NOTIFY sourcesChanged)
    Q_PROPERTY(iptv::hubris::ChannelFilterModel *channels READ channels WRITE setChannels NOTIFY sourcesChanged)
    Q_PROPERTY(iptv::hubris::DvrClient *dvr READ dvr WRITE setDvr NOTIFY sourcesChanged)

    /// The focused row of `channels`, and its guide channel index (-1: no rows).
    Q_PROPERTY(int currentRow READ currentRow WRITE setCurrentRow NOTIFY focusChanged)
    Q_PROPERTY(int currentChannel READ currentChannel NOTIFY focusChanged)
    /// The airing focused ({} in a gap): GuideGrid::airingAt()'s map.
    Q_PROPERTY(QVariantMap currentAiring READ currentAiring NOTIFY focusChanged)
    /// UTC seconds: the focus, the grid's left edge and the guide's clock when it was opened.
    Q_PROPERTY(qint64 focusTime READ focusTime NOTIFY focusChanged)
    Q_PROPERTY(qint64 viewStart READ viewStart NOTIFY viewChanged)
    Q_PROPERTY(qint64 now READ now NOTIFY viewChanged)
    Q_PROPERTY(int topRow READ topRow NOTIFY viewChanged)
    /// Rows wholly on screen (a page of CH+/CH-).
    Q_PROPERTY(int rowsOnScreen READ rowsOnScreen NOTIFY viewChanged)
    Q_PROPERTY(int rowCount READ rowCount NOTIFY rowCountChanged)

    // Geometry and look (Theme.qml's values are bound from the page).
    Q_PROPERTY(int span READ span WRITE setSpan NOTIFY styleChanged)
    Q_PROPERTY(int slot READ slot WRITE setSlot NOTIFY styleChanged)
    Q_PROPERTY(int rowHeight READ rowHeight WRITE setRowHeight NOTIFY styleChanged)
    Q_PROPERTY(int rulerHeight READ rulerHeight WRITE setRulerHeight NOTIFY styleChanged)
    Q_PROPERTY(int channelColumn READ channelColumn WRITE setChannelColumn NOTIFY styleChanged)
    Q_PROPERTY(QFont font READ font WRITE setFont NOTIFY styleChanged)
    Q_PROPERTY(QColor backgroundColor MEMBER m_background WRITE setBackgroundColor NOTIFY styleChanged)
    Q_PROPERTY(QColor cellColor MEMBER m_cell WRITE setCellColor NOTIFY styleChanged)
    Q_PROPERTY(QColor cellNowColor MEMBER m_cellNow WRITE setCellNowColor NOTIFY styleChanged)
    Q_PROPERTY(QColor focusColor MEMBER m_focus WRITE setFocusColor NOTIFY styleChanged)
    Q_PROPERTY(QColor textColor MEMBER m_text WRITE setTextColor NOTIFY styleChanged)
    Q_PROPERTY(QColor dimTextColor MEMBER m_dimText WRITE setDimTextColor NOTIFY styleChanged)
    Q_PROPERTY(QColor accentColor MEMBER m_accent WRITE setAccentColor NOTIFY styleChanged)
    Q_PROPERTY(QColor errorColor MEMBER m_error WRITE setErrorColor NOTIFY styleChanged)
    Q_PROPERTY(int focusWidth MEMBER m_focusWidth WRITE setFocusWidth NOTIFY styleChanged)

public:
    /// One programme cell as drawn, in the programme area's coordinates (x from the area's left
    /// edge, the cell's row from the top of the grid).
    struct Cell
    {
        int row = -1;
        int channel = -1;
        int airing = -1;
        qint64 start = 0, stop = 0;
        int x = 0, width = 0;
        QString title;
        bool focused = false, onNow = false, locked = false, isNew = false;
        QString mark; ///< "recording", "planned", "conflict" or ""
    };
    struct RowPlan; ///< what a row draws (defined with the scene-graph side, in the .cpp)
    struct Plan;    ///< what a frame draws

    explicit GuideGridView(QQuickItem *parent = nullptr);
    ~GuideGridView() override;

    GuideGrid *guide() const { return m_guide; }
    void setGuide(GuideGrid *guide);
    ChannelFilterModel *channels() const { return m_channels; }
    void setChannels(ChannelFilterModel *channels);
    DvrClient *dvr() const { return m_dvr; }
    void setDvr(DvrClient *dvr);

    int currentRow() const { return m_row; }
    /// Focuses `row` (clamped), shows it, and the airing at the focus time on it.
    void setCurrentRow(int row);
    int currentChannel() const;
    QVariantMap currentAiring() const { return m_airing; }
    qint64 focusTime() const { return m_focusTime; }
    qint64 viewStart() const { return m_viewStart; }
    qint64 now() const { return m_now; }
    int topRow() const { return m_top; }
    int rowsOnScreen() const;
    int rowCount() const;

    int span() const { return m_span; }
    void setSpan(int seconds);
    int slot() const { return m_slot; }
    void setSlot(int seconds);
    int rowHeight() const { return m_rowHeight; }
    void setRowHeight(int px);
    int rulerHeight() const { return m_rulerHeight; }
    void setRulerHeight(int px);
    int channelColumn() const { return m_channelColumn; }
    void setChannelColumn(int px);
    QFont font() const { return m_font; }
    void setFont(const QFont &font);
    void setBackgroundColor(const QColor &c) { setStyle(m_background, c); }
    void setCellColor(const QColor &c) { setStyle(m_cell, c); }
    void setCellNowColor(const QColor &c) { setStyle(m_cellNow, c); }
    void setFocusColor(const QColor &c) { setStyle(m_focus, c); }
    void setTextColor(const QColor &c) { setStyle(m_text, c); }
    void setDimTextColor(const QColor &c) { setStyle(m_dimText, c); }
    void setAccentColor(const QColor &c) { setStyle(m_accent, c); }
    void setErrorColor(const QColor &c) { setStyle(m_error, c); }
    void setFocusWidth(int px);

    /// Opens on guide channel `channel` (its row, or the nearest shown) at now, row centred.
    Q_INVOKABLE void open(int channel);
    /// Left/right: to the previous or next airing of the row (by a slot across gaps); the view
    /// follows by whole slots.
    Q_INVOKABLE void step(bool forward);
    /// Up/down and pages: `rows` rows (clamped); the view follows to keep the row on screen.
    Q_INVOKABLE void moveRows(int rows);
    /// Red/green: the same time `days` days away (clamped to the guide), the view at it.
    Q_INVOKABLE void jumpDays(int days);
    /// Focuses guide channel `channel` (or the nearest shown row), e.g. after rows came back.
    Q_INVOKABLE void showChannel(int channel);
    /// The page wants the focused airing looked up again (a lock was lifted, favourites toggled).
    Q_INVOKABLE void refocus();

    /// The cells the viewport shows now, row by row, each row in time order.
    QList<Cell> visibleCells() const;
    /// The x of the now line in the programme area, -1 when now is off screen.
    int nowLineX() const;
    /// The programme area's width in pixels (the item's width less the channel column).
    int programmeWidth() const;
    /// The least width the focused cell is drawn at (a programme of a minute is a few pixels).
    int minFocusedWidth() const { return std::max(24, 2 * m_focusWidth + 8); }

Q_SIGNALS:
    void sourcesChanged();
    void focusChanged();
    void viewChanged();
    void rowCountChanged();
    void styleChanged();

protected:
    void updatePolish() override;
    QSGNode *updatePaintNode(QSGNode *old, UpdatePaintNodeData *) override;
    void geometryChange(const QRectF &newGeometry, const QRectF &oldGeometry) override;
    void releaseResources() override;

private:
    void setStyle(QColor &member, const QColor &value);
    void changed(bool view);
    void rowsChanged();
    void keepRowOnScreen(bool centre);
    qint64 align(qint64 t) const;
    qint64 clampTime(qint64 t) const;
    QVariantMap airingAt(int channel, qint64 t) const;
    QList<Cell> rowCells(int row, int channel) const;
    RowPlan planRow(int row) const;

    QPointer<GuideGrid> m_guide;
    QPointer<ChannelFilterModel> m_channels;
    QPointer<DvrClient> m_dvr;

    int m_row = 0;
    int m_top = 0;
    qint64 m_focusTime = 0;
    qint64 m_viewStart = 0;
    qint64 m_now = 0;
    QVariantMap m_airing;

    int m_span = 9000;
    int m_slot = 1800;
    int m_rowHeight = 64;
    int m_rulerHeight = 32;
    int m_channelColumn = 230;
    QFont m_font;
    QColor m_background{0x10, 0x14, 0x18}, m_cell{0x24, 0x30, 0x42}, m_cellNow{0x2e, 0x3d, 0x55}, m_focus{0xf5, 0xa6, 0x23},
        m_text{Qt::white}, m_dimText{0xa9, 0xb4, 0xc2}, m_accent{0x3d, 0x8b, 0xfd}, m_error{0xe5, 0x53, 0x4b};
    int m_focusWidth = 4;

    std::unique_ptr<Plan> m_plan; ///< what updatePaintNode draws, made in updatePolish
};

} // namespace iptv::hubris
