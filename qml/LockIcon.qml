import QtQuick

// A padlock drawn with two rectangles (the UI font has no lock glyph).
Item {
    id: root
    property color color: Theme.text
    width: 18; height: 22
    Rectangle {
        x: 3; y: 0; width: 12; height: 14; radius: 6
        color: "transparent"; border.color: root.color; border.width: 3
    }
    Rectangle { x: 0; y: 9; width: 18; height: 13; radius: 2; color: root.color }
}
