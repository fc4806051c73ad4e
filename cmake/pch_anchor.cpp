// Anchor source of the precompiled-header object library (see CMakeLists.txt).
