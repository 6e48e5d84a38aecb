pragma Singleton
import QtQuick

// The two stylesheets: a dark default and high contrast, switched live (Theme.highContrast).
QtObject {
    property bool highContrast: false

    readonly property color background: highContrast ? "#000000" : "#101418"
    readonly property color panel: highContrast ? "#000000" : "#cc1b2330"
    readonly property color panelSolid: highContrast ? "#000000" : "#1b2330"
    readonly property color text: "#ffffff"
    readonly property color dimText: highContrast ? "#ffffff" : "#a9b4c2"
    readonly property color accent: highContrast ? "#ffff00" : "#3d8bfd"
    readonly property color focus: highContrast ? "#ffff00" : "#f5a623"
    readonly property color cell: highContrast ? "#000000" : "#243042"
    readonly property color cellNow: highContrast ? "#202020" : "#2e3d55"
    readonly property color error: highContrast ? "#ff6060" : "#e5534b"
    readonly property int focusWidth: highContrast ? 6 : 4

    readonly property int margin: 48          // 10-foot safe area on 1280x720
    readonly property int fontSmall: 20
    readonly property int fontNormal: 26
    readonly property int fontLarge: 34
    readonly property int fontHuge: 56
    readonly property string family: "DejaVu Sans"
}
