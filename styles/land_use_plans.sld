<?xml version="1.0" encoding="UTF-8"?>
<sld:StyledLayerDescriptor version="1.0.0"
    xmlns:sld="http://www.opengis.net/sld" xmlns:ogc="http://www.opengis.net/ogc"
    xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:schemaLocation="http://www.opengis.net/sld http://schemas.opengis.net/sld/1.0.0/StyledLayerDescriptor.xsd">
  <sld:NamedLayer>
    <sld:Name>land_use_plans</sld:Name>
    <sld:UserStyle>
      <sld:Name>land_use_plans</sld:Name>
      <sld:Title>Planowanie przestrzenne / Land use plans</sld:Title>
      <sld:FeatureTypeStyle>
        <sld:Rule>
          <sld:Name>land_use_plans</sld:Name>
          <sld:Title>Planowanie przestrzenne / Land use plans</sld:Title>
          <sld:PolygonSymbolizer>
            <sld:Fill>
              <sld:CssParameter name="fill">#FFE680</sld:CssParameter>
              <sld:CssParameter name="fill-opacity">0.63</sld:CssParameter>
            </sld:Fill>
            <sld:Stroke>
              <sld:CssParameter name="stroke">#5A5A5A</sld:CssParameter>
              <sld:CssParameter name="stroke-width">1.1</sld:CssParameter>
            </sld:Stroke>
          </sld:PolygonSymbolizer>
        </sld:Rule>
      </sld:FeatureTypeStyle>
    </sld:UserStyle>
  </sld:NamedLayer>
</sld:StyledLayerDescriptor>
