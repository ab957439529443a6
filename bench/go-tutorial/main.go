// Command business-importer is our rebuild of the Go tutorial's
// "business-importer" design (Gin + GORM + an xlsx reader), made from
// Debian's Go packages so that sheetpipe can be measured against that design
// on the same machine. It is not the tutorial's source; see README.md beside
// this file for what was kept, what had to differ, and why.
//
// Two modes:
//
//	business-importer -dsn DSN [-addr :8080]                 # the service
//	business-importer -dsn DSN -import FILE [-method batch]  # one import, JSON on stdout, exit
//	business-importer -parse-only FILE                       # read the sheet into memory, exit
package main

import (
	"flag"
	"fmt"
	"io/ioutil"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"encoding/json"

	"github.com/gin-gonic/gin"
	"github.com/jinzhu/gorm"
	_ "github.com/jinzhu/gorm/dialects/postgres"
	"github.com/tealeg/xlsx"
)

// Business is the tutorial's model. GORM v1 names the indexes
// idx_businesses_<column>, the names sheetpipe's schema uses too, so both
// programs can share one table.
type Business struct {
	ID          uint       `gorm:"primary_key" json:"id"`
	Name        string     `gorm:"not null;index" json:"name"`
	Category    string     `gorm:"index" json:"category"`
	Phone       string     `json:"phone"`
	Email       string     `gorm:"index" json:"email"`
	Address     string     `json:"address"`
	City        string     `gorm:"index" json:"city"`
	Country     string     `gorm:"index" json:"country"`
	Website     string     `json:"website"`
	Description string     `gorm:"type:text" json:"description"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	DeletedAt   *time.Time `gorm:"index" json:"deleted_at"`
}

// ImportStats is the tutorial's stats object.
type ImportStats struct {
	TotalRecords     int     `json:"total_records"`
	SuccessCount     int     `json:"success_count"`
	ErrorCount       int     `json:"error_count"`
	Duration         string  `json:"duration"`
	RecordsPerSecond float64 `json:"records_per_second"`
}

const batchSize = 100

// Importer holds the database handle shared by every import.
type Importer struct {
	db *gorm.DB
}

// readRows reads the first sheet whole into memory as rows of strings,
// header included, as the tutorial's excelize GetRows did.
func readRows(path string) ([][]string, error) {
	f, err := xlsx.OpenFile(path)
	if err != nil {
		return nil, err
	}
	if len(f.Sheets) == 0 {
		return nil, fmt.Errorf("workbook has no sheet")
	}
	sheet := f.Sheets[0]
	rows := make([][]string, 0, len(sheet.Rows))
	for _, r := range sheet.Rows {
		cells := make([]string, 0, len(r.Cells))
		for _, c := range r.Cells {
			cells = append(cells, c.String())
		}
		// excelize's GetRows drops trailing empty cells; do the same.
		for len(cells) > 0 && cells[len(cells)-1] == "" {
			cells = cells[:len(cells)-1]
		}
		rows = append(rows, cells)
	}
	return rows, nil
}

// parseRow maps a row by position, as the tutorial did: a row with fewer
// than nine cells is an error (the tutorial's rule, kept).
func parseRow(row []string) (Business, bool) {
	if len(row) < 9 {
		return Business{}, false
	}
	return Business{
		Name:        strings.TrimSpace(row[0]),
		Category:    strings.TrimSpace(row[1]),
		Phone:       strings.TrimSpace(row[2]),
		Email:       strings.TrimSpace(row[3]),
		Address:     strings.TrimSpace(row[4]),
		City:        strings.TrimSpace(row[5]),
		Country:     strings.TrimSpace(row[6]),
		Website:     strings.TrimSpace(row[7]),
		Description: strings.TrimSpace(row[8]),
	}, true
}

func finish(stats *ImportStats, start time.Time) ImportStats {
	d := time.Since(start)
	stats.Duration = d.String()
	if d > 0 {
		stats.RecordsPerSecond = float64(stats.TotalRecords) / d.Seconds()
	}
	return *stats
}

// ImportSequential: one GORM Create (one INSERT in its own transaction) per row.
func (s *Importer) ImportSequential(rows [][]string) ImportStats {
	start := time.Now()
	stats := ImportStats{TotalRecords: len(rows)}
	for _, row := range rows {
		b, ok := parseRow(row)
		if !ok {
			stats.ErrorCount++
			continue
		}
		if err := s.db.Create(&b).Error; err != nil {
			stats.ErrorCount++
		} else {
			stats.SuccessCount++
		}
	}
	return finish(&stats, start)
}

// ImportConcurrent: a pool of runtime.NumCPU() workers, each doing a GORM
// Create per row it takes from one jobs channel.
func (s *Importer) ImportConcurrent(rows [][]string) ImportStats {
	start := time.Now()
	stats := ImportStats{TotalRecords: len(rows)}
	var mu sync.Mutex // ours: the tutorial updated the counters without one
	var wg sync.WaitGroup
	jobs := make(chan []string, len(rows))
	for w := 0; w < runtime.NumCPU(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for row := range jobs {
				b, ok := parseRow(row)
				var err error
				if ok {
					err = s.db.Create(&b).Error
				}
				mu.Lock()
				if !ok || err != nil {
					stats.ErrorCount++
				} else {
					stats.SuccessCount++
				}
				mu.Unlock()
			}
		}()
	}
	for _, row := range rows {
		jobs <- row
	}
	close(jobs)
	wg.Wait()
	return finish(&stats, start)
}

// ImportBatch: batches of 100 rows, one goroutine per batch, at most
// runtime.NumCPU() of them writing at once (a semaphore channel), each batch
// one multi-row INSERT in its own transaction.
func (s *Importer) ImportBatch(rows [][]string) ImportStats {
	start := time.Now()
	stats := ImportStats{TotalRecords: len(rows)}
	var mu sync.Mutex // ours: the tutorial updated the counters without one
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.NumCPU())
	for i := 0; i < len(rows); i += batchSize {
		end := i + batchSize
		if end > len(rows) {
			end = len(rows)
		}
		wg.Add(1)
		go func(batch [][]string) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			businesses := make([]Business, 0, len(batch))
			invalid := 0
			for _, row := range batch {
				if b, ok := parseRow(row); ok {
					businesses = append(businesses, b)
				} else {
					invalid++
				}
			}
			err := s.createInBatch(businesses)
			mu.Lock()
			stats.ErrorCount += invalid
			if err != nil {
				stats.ErrorCount += len(businesses)
			} else {
				// ours: the true length (the tutorial added a whole batchSize)
				stats.SuccessCount += len(businesses)
			}
			mu.Unlock()
		}(rows[i:end])
	}
	wg.Wait()
	return finish(&stats, start)
}

// createInBatch stands in for GORM v2's CreateInBatches(businesses, 100),
// which GORM v1 lacks: what v2 sends for one batch — a transaction holding
// one INSERT of every column but id for all rows, RETURNING the ids, which
// are set on the structs — built here by hand through GORM v1's Raw.
func (s *Importer) createInBatch(bs []Business) error {
	if len(bs) == 0 {
		return nil
	}
	now := time.Now()
	cols := []string{"name", "category", "phone", "email", "address", "city",
		"country", "website", "description", "created_at", "updated_at", "deleted_at"}
	var sql strings.Builder
	sql.WriteString(`INSERT INTO "businesses" ("`)
	sql.WriteString(strings.Join(cols, `","`))
	sql.WriteString(`") VALUES `)
	args := make([]interface{}, 0, len(bs)*len(cols))
	for i := range bs {
		b := &bs[i]
		b.CreatedAt, b.UpdatedAt = now, now
		if i > 0 {
			sql.WriteString(",")
		}
		sql.WriteString("(")
		for c := range cols {
			if c > 0 {
				sql.WriteString(",")
			}
			fmt.Fprintf(&sql, "$%d", len(args)+c+1)
		}
		sql.WriteString(")")
		args = append(args, b.Name, b.Category, b.Phone, b.Email, b.Address, b.City,
			b.Country, b.Website, b.Description, b.CreatedAt, b.UpdatedAt, b.DeletedAt)
	}
	sql.WriteString(` RETURNING "id"`)

	tx := s.db.Begin()
	if tx.Error != nil {
		return tx.Error
	}
	res, err := tx.Raw(sql.String(), args...).Rows()
	if err != nil {
		tx.Rollback()
		return err
	}
	i := 0
	for res.Next() {
		if i < len(bs) {
			if err := res.Scan(&bs[i].ID); err != nil {
				res.Close()
				tx.Rollback()
				return err
			}
		}
		i++
	}
	if err := res.Err(); err != nil {
		res.Close()
		tx.Rollback()
		return err
	}
	res.Close()
	return tx.Commit().Error
}

// Run dispatches on the method name; ok is false for an unknown one.
func (s *Importer) Run(method string, rows [][]string) (ImportStats, bool) {
	switch method {
	case "sequential":
		return s.ImportSequential(rows), true
	case "concurrent":
		return s.ImportConcurrent(rows), true
	case "batch":
		return s.ImportBatch(rows), true
	}
	return ImportStats{}, false
}

// dataRows drops the header row, as the tutorial did (rows[1:]).
func dataRows(rows [][]string) [][]string {
	if len(rows) == 0 {
		return rows
	}
	return rows[1:]
}

func (s *Importer) upload(c *gin.Context) {
	method := c.DefaultQuery("method", "batch")
	if method != "sequential" && method != "concurrent" && method != "batch" {
		c.JSON(http.StatusBadRequest, gin.H{"error": "Invalid method. Use: sequential, concurrent, or batch"})
		return
	}
	file, err := c.FormFile("file")
	if err != nil {
		c.JSON(http.StatusBadRequest, gin.H{"error": "No file uploaded"})
		return
	}
	ext := strings.ToLower(filepath.Ext(file.Filename))
	if ext != ".xlsx" && ext != ".xls" {
		c.JSON(http.StatusBadRequest, gin.H{"error": "Only Excel files allowed"})
		return
	}
	// The tutorial saved the upload under uploads/ by its client name; a
	// private temporary file here (same cost, no path taken from the client).
	dir, err := ioutil.TempDir("", "business-importer-")
	if err != nil {
		c.JSON(http.StatusInternalServerError, gin.H{"error": "Failed to save file"})
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "upload"+ext)
	if err := c.SaveUploadedFile(file, path); err != nil {
		c.JSON(http.StatusInternalServerError, gin.H{"error": "Failed to save file"})
		return
	}
	rows, err := readRows(path)
	if err != nil {
		c.JSON(http.StatusBadRequest, gin.H{"error": "Failed to read Excel file"})
		return
	}
	stats, _ := s.Run(method, dataRows(rows))
	c.JSON(http.StatusOK, gin.H{
		"message": "Import completed successfully",
		"method":  method,
		"stats":   stats,
	})
}

func (s *Importer) health(c *gin.Context) {
	if err := s.db.DB().Ping(); err != nil {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unhealthy", "error": err.Error()})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "healthy"})
}

func openDB(dsn string) *gorm.DB {
	db, err := gorm.Open("postgres", dsn)
	if err != nil {
		log.Fatalf("failed to connect to database: %v", err)
	}
	// The pool settings of GORM's documentation, which the tutorial followed.
	db.DB().SetMaxIdleConns(10)
	db.DB().SetMaxOpenConns(100)
	db.DB().SetConnMaxLifetime(time.Hour)
	if err := db.AutoMigrate(&Business{}).Error; err != nil {
		log.Fatalf("failed to migrate: %v", err)
	}
	return db
}

func main() {
	dsn := flag.String("dsn", os.Getenv("DATABASE_URL"), "PostgreSQL DSN (lib/pq syntax; add sslmode=disable for a local server)")
	addr := flag.String("addr", ":8080", "listen address of the service")
	importFile := flag.String("import", "", "import this file once, print the JSON answer and exit")
	method := flag.String("method", "batch", "sequential|concurrent|batch (with -import)")
	parseOnly := flag.String("parse-only", "", "read this file into memory, print the row count and parse time, exit")
	flag.Parse()

	if *parseOnly != "" {
		t := time.Now()
		rows, err := readRows(*parseOnly)
		if err != nil {
			log.Fatalf("read %s: %v", *parseOnly, err)
		}
		fmt.Printf("{\"rows\":%d,\"parse_ms\":%.1f}\n", len(dataRows(rows)), float64(time.Since(t).Microseconds())/1000)
		return
	}

	db := openDB(*dsn)
	defer db.Close()
	imp := &Importer{db: db}

	if *importFile != "" {
		t := time.Now()
		rows, err := readRows(*importFile)
		if err != nil {
			log.Fatalf("read %s: %v", *importFile, err)
		}
		parse := time.Since(t)
		t = time.Now()
		stats, ok := imp.Run(*method, dataRows(rows))
		if !ok {
			log.Fatalf("invalid method %q: use sequential, concurrent, or batch", *method)
		}
		out, _ := json.Marshal(map[string]interface{}{
			"message":   "Import completed successfully",
			"method":    *method,
			"stats":     stats,
			"parse_ms":  float64(parse.Microseconds()) / 1000,
			"import_ms": float64(time.Since(t).Microseconds()) / 1000,
		})
		fmt.Println(string(out))
		return
	}

	r := gin.Default()
	r.POST("/upload", imp.upload)
	r.GET("/health", imp.health)
	log.Printf("business-importer listening on %s", *addr)
	if err := r.Run(*addr); err != nil {
		log.Fatal(err)
	}
}
